/** The shape of one EC2 action handler: parameters in, the response's elements out. */
import type { Clock } from '../../../common/clock.js';
import type { Params } from '../query.js';
import type { Ec2State } from '../state.js';
import type { XmlValue } from '../xml.js';

export interface ActionContext {
  state: Ec2State;
  clock: Clock;
}

export type Action = (ctx: ActionContext, p: Params) => Promise<Record<string, XmlValue>>;
