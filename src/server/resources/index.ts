/** Every resource the API serves, in the order `/v2.0` lists them. */
import type { Kind } from '../../model/types.js';
import type { ResourceDef } from '../resource.js';
import { agents } from './agents.js';
import { networks } from './networks.js';
import { ports } from './ports.js';
import { securityGroupRules } from './security-group-rules.js';
import { securityGroups } from './security-groups.js';
import { subnetpools } from './subnetpools.js';
import { subnets } from './subnets.js';
import { routers } from './routers.js';
import { floatingips } from './floatingips.js';
import { instances } from './instances.js';
import { hypervms } from './hypervms.js';

export const RESOURCES = [
  networks,
  subnets,
  ports,
  securityGroups,
  securityGroupRules,
  agents,
  routers,
  floatingips,
  instances,
  subnetpools,
  hypervms,
] as unknown as readonly ResourceDef<Kind>[];
