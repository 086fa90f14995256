/**
 * The custom-route controller's own types: what it wants of a cloud (compile's answer) and the
 * operations that take EC2 there (diff's answer). Groups are named in what it wants, since their ids
 * exist only once EC2 made them; diff resolves the names through what EC2 reports.
 */
import type { CustomRouteEniRole, IngressRule } from '../../model/custom-route-cloud.js';

/** What the controller wants of one ENI it manages. */
export interface WantedEni {
  role: CustomRouteEniRole;
  sourceDestCheck: boolean;
  /** Names of the controller's groups the ENI must carry (its other groups stay). */
  groups: string[];
}

/** A port the controller moves off a dead hyperswitch (store: only while still bound to `from`). */
export interface Rebind {
  port: string;
  from: string;
  to: string;
}

export interface CrDesired {
  /** Table → destination CIDR → target ENI. */
  routes: Record<string, Record<string, string>>;
  enis: Record<string, WantedEni>;
  /** Group name → description and ingress (a rule's `group` is a group *name* here). */
  groups: Record<string, { description: string; rules: IngressRule[] }>;
  /** The hyper CIDRs whose routes (and /32s inside) the controller owns. */
  owned: string[];
  rebinds: Rebind[];
  /** Ports it cannot serve, and why (logged). */
  skipped: { port: string; reason: string }[];
  /** `in-addition` ports served, but reachable past the hyperswitch, and why (logged). */
  exposed: { port: string; reason: string }[];
}

export type CrOp =
  | { op: 'createGroup'; name: string; description: string }
  | { op: 'setRules'; name: string; description: string; rules: IngressRule[] }
  | { op: 'setRole'; eni: string; role: CustomRouteEniRole | undefined }
  | { op: 'setSourceDestCheck'; eni: string; enabled: boolean }
  | { op: 'setGroups'; eni: string; groups: string[] }
  | { op: 'setRoute'; table: string; cidr: string; eni: string; was?: string }
  | { op: 'deleteRoute'; table: string; cidr: string; eni: string };
