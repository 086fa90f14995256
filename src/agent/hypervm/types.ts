/** The HyperVM feature's state: the containers this node should run, what it runs, and the steps between. */

/** One container this node should run: a HyperVM scheduled here, with its port's wiring. */
export interface DesiredContainer {
  /** The HyperVM's id. */
  id: string;
  /** The LXC container's name (from the id). */
  name: string;
  imageId: string;
  /** The host side of the container's veth: the port's tap name, so the datapath and firewall wire it. */
  tap: string;
  mac: string;
  mtu: number;
  /** The launch token was already taken: a container that is not there cannot be pulled again. */
  tokenSpent: boolean;
  /** The status the server shows, to report only changes. */
  reported: string;
  /** A snapshot or migration this node must export the container for ('' none). */
  task: '' | 'snapshot' | 'migrate';
  /** The queued image the export goes to. */
  taskImageId: string;
  /** The task's upload token was taken already: an export not under way here cannot be repeated. */
  taskTokenSpent: boolean;
  /** A console session to dial back for, or ''. */
  consoleSession: string;
}

/** A container found under the node's HyperVM directory. */
export interface ActualContainer {
  name: string;
  running: boolean;
}

export type HyperVmOp =
  /** Take the token, pull, unpack, configure and start (in the background: a pull takes a while). */
  | { op: 'launch'; c: DesiredContainer }
  /** The container exists but is stopped (the node restarted): start it again. */
  | { op: 'start'; c: DesiredContainer }
  /** Running as it should: tell the server when it does not know yet. */
  | { op: 'active'; c: DesiredContainer }
  /** Gone, and its one token spent: the launch cannot be repeated. */
  | { op: 'fail'; c: DesiredContainer; reason: string }
  /** Export the container (stopped first for a migration) and upload it with the task's one token. */
  | { op: 'export'; c: DesiredContainer }
  /** The task's token was spent by an export this node no longer runs (it restarted): end it as failed. */
  | { op: 'end-task'; c: DesiredContainer; reason: string }
  /** No HyperVM of this node wants it any more. */
  | { op: 'destroy'; name: string };
