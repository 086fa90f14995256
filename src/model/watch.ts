/**
 * The watch stream protocol between server and agents.
 *
 *   GET /v2.0/watch[?since=R]          (auth as any API call; agents use an admin token)
 *
 * Response: HTTP 200, `Content-Type: application/x-ndjson`, one JSON object per line, kept open.
 *  - Without `since`: first a `snapshot` line (every resource at revision R, read in one transaction),
 *    then `event` lines for every change after R, in revision order.
 *  - With `since=R`: `event` lines for every change after R (no snapshot) if the server still has
 *    history back to R; otherwise HTTP 410 with NeutronError type `WatchRevisionCompacted`
 *    ("too old, resync"): the client then reconnects without `since` and takes a new snapshot.
 *  - A `heartbeat` line every few seconds, so a client can tell a silent stream from a dead one.
 *
 * Events carry the whole object after the change (`object`), or its last state for deletes.
 */
import type { KindMap, WatchedKind } from './types.js';

export type AnyObject = KindMap[WatchedKind];

export interface Snapshot {
  type: 'snapshot';
  revision: number;
  networks: KindMap['network'][];
  subnets: KindMap['subnet'][];
  ports: KindMap['port'][];
  security_groups: KindMap['security_group'][];
  security_group_rules: KindMap['security_group_rule'][];
  agents: KindMap['agent'][];
  /** Absent from servers before routers existed. */
  routers?: KindMap['router'][];
  floatingips?: KindMap['floatingip'][];
  /** Absent from servers older than subnet pools. */
  subnetpools?: KindMap['subnetpool'][];
  /** Absent from servers older than HyperVMs. */
  hypervms?: KindMap['hypervm'][];
}

export interface WatchEvent {
  type: 'event';
  revision: number;
  kind: WatchedKind;
  op: 'create' | 'update' | 'delete';
  id: string;
  object: AnyObject;
}

export interface Heartbeat {
  type: 'heartbeat';
  revision: number;
}

export type WatchMessage = Snapshot | WatchEvent | Heartbeat;
