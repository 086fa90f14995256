/**
 * What the lab's parts (daemons, VMs) need of a running lab, so each takes one argument instead of
 * five; a World is the one that implements it.
 */
import type { ApiClient } from '../client/api.js';
import type { Clock } from '../common/clock.js';
import type { Exec } from '../common/exec.js';
import type { LabPlan } from './plan.js';
import type { LabState } from './state.js';

export interface LabHandle {
  readonly plan: LabPlan;
  readonly api: ApiClient;
  readonly exec: Exec;
  readonly clock: Clock;
  /** lab.json as it is in memory; `save()` writes it. */
  readonly state: LabState;
  save(): void;
}
