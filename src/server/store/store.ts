/**
 * The Store contract: every backend (SQLite, PostgreSQL) implements it, so the API layer
 * never sees SQL. All access goes through transactions: `write` runs its callback in ONE transaction
 * (all or nothing), every object change appends a change-log row with the next global revision (the
 * watch stream reads it), and uniqueness (VNI, MAC per network, IP per subnet) is enforced by the
 * database itself, so a lost race shows up as a failed claim, never as a duplicate.
 */
import type { Kind, KindMap } from '../../model/types.js';

export type ChangeOp = 'create' | 'update' | 'delete';

export interface Change {
  revision: number;
  kind: Kind;
  id: string;
  op: ChangeOp;
  object: KindMap[Kind];
}

/** An IP allocation row: one address of one subnet held by one port. */
export interface IpAllocation {
  subnet_id: string;
  ip_address: string;
  port_id: string;
}

export interface ReadTx {
  /** The revision of the last committed change. */
  revision(): Promise<number>;
  get<K extends Kind>(kind: K, id: string): Promise<KindMap[K] | undefined>;
  /** Objects of a kind in creation order, optionally only those with the given parent (network, group, host). */
  list<K extends Kind>(kind: K, parentId?: string): Promise<KindMap[K][]>;
  /** Allocations of a subnet (`subnetId`) or held by a port (`portId`). */
  ipAllocations(by: { subnetId?: string; portId?: string }): Promise<IpAllocation[]>;
  /** The default security group of a project, if created. */
  defaultSecurityGroup(projectId: string): Promise<string | undefined>;
  /** How many objects of a kind belong to a project (quota usage). */
  countOwned(kind: Kind, projectId: string): Promise<number>;
  /** Quota limits an admin set: one project's, or every project's when `projectId` is undefined. */
  quotaOverrides(projectId?: string): Promise<QuotaOverride[]>;
  /** The result a write with this idempotency key stored (see `rememberResult`), if it is still kept. */
  rememberedResult(key: string): Promise<string | undefined>;
  /** Sorted allocated keys of a range (see ipam/keys.ts); `from` inclusive, at most `limit`. */
  allocatedKeys(space: KeySpace, from: bigint, to: bigint, limit: number): Promise<bigint[]>;
  /** The highest allocated key in [from, to], or undefined. */
  maxAllocatedKey(space: KeySpace, from: bigint, to: bigint): Promise<bigint | undefined>;
}

/** A quota limit set for one project and one resource (`-1` = unlimited). */
export interface QuotaOverride {
  project_id: string;
  resource: string;
  limit: number;
}

/** A uniqueness domain for numbered things: the VNI space, or one subnet's addresses. */
export type KeySpace = { kind: 'vni' } | { kind: 'ip'; subnetId: string; version: 4 | 6 };

export interface WriteTx extends ReadTx {
  /** Creates or replaces an object and appends a change (create/update). Returns its revision. */
  put<K extends Kind>(kind: K, obj: KindMap[K], op: 'create' | 'update', parentId?: string): Promise<number>;
  /** Removes an object and appends a delete change carrying its last state. */
  remove<K extends Kind>(kind: K, obj: KindMap[K]): Promise<number>;
  /** Claims a VNI for a network; false when taken. */
  claimVni(vni: number, networkId: string): Promise<boolean>;
  releaseVni(networkId: string): Promise<void>;
  /** Claims a MAC on a network; false when taken. */
  claimMac(networkId: string, mac: string, portId: string): Promise<boolean>;
  releaseMac(networkId: string, mac: string): Promise<void>;
  /** Claims an address of a subnet; false when taken. */
  claimIp(subnetId: string, version: 4 | 6, ip: string, portId: string): Promise<boolean>;
  releaseIp(subnetId: string, ip: string): Promise<void>;
  setDefaultSecurityGroup(projectId: string, sgId: string): Promise<boolean>;
  clearDefaultSecurityGroup(sgId: string): Promise<void>;
  /** Sets one project's limit for one resource. */
  setQuota(projectId: string, resource: string, limit: number): Promise<void>;
  /** Drops a project's limits (back to the defaults). */
  clearQuotas(projectId: string): Promise<void>;
  /** Writes a field without a change-log row (agent heartbeats; see docs/watch.md). */
  putQuiet<K extends Kind>(kind: K, obj: KindMap[K]): Promise<void>;
  /**
   * Keeps `result` under an idempotency key, in this transaction, so a retry of the same request finds
   * it; results older than `keepMs` before `nowMs` are dropped on the way.
   */
  rememberResult(key: string, result: string, nowMs: number, keepMs: number): Promise<void>;
}

/**
 * Thrown by a `writeQuiet` transaction that tried to change more than bodies written quietly (a
 * change-log row, an allocation): the caller runs the same work again with `write`.
 */
export class NeedsWriteLockError extends Error {
  constructor(what: string) {
    super(`${what} needs a full write transaction`);
    this.name = 'NeedsWriteLockError';
  }
}

export type ChangesResult = { compacted: true } | { compacted: false; changes: Change[]; revision: number };

export interface Store {
  read<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T>;
  /** One transaction: if `fn` throws, nothing it did is kept. */
  write<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T>;
  /**
   * A transaction that only writes quietly (`putQuiet`, `rememberResult`): agent heartbeats. A backend
   * may run it without the writers' lock (PostgreSQL does), and then refuses anything else in it with
   * NeedsWriteLockError. Concurrent changes to the same row are still caught (and retried) by the
   * database, so a heartbeat never overwrites a full write's change.
   */
  writeQuiet<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T>;
  /** The schema version the database has now (another server may have upgraded it). */
  schemaVersion(): Promise<number>;
  /** Changes with revision > `since` (at most `limit`), or `compacted` when history no longer reaches back. */
  changesSince(since: number, limit: number): Promise<ChangesResult>;
  /** Called after every commit that appended changes, with the new revision. Returns an unsubscribe. */
  onCommit(listener: (revision: number) => void): () => void;
  close(): Promise<void>;
  /**
   * Transactions run and database round trips they took, by kind, since the store opened: for a
   * backend that talks to its database over the network (PostgreSQL). Shown on `/metrics`.
   */
  roundTrips?(): Record<TxKind, TxCount>;
}

/** A transaction's kind: a read, a write under the writers' lock, or a quiet write (heartbeats). */
export type TxKind = 'read' | 'write' | 'quiet';

export interface TxCount {
  transactions: number;
  roundTrips: number;
}

/**
 * The store's database cannot be reached right now (down, restarting, network): the API answers 503,
 * and the same request may succeed later. `cause` holds the driver's error for the server's log.
 */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}
