/**
 * Pure: the datapath state after FDB and neighbour operations applied without error — what a read
 * right after them would report for those entries. Lets the fast path hand its kernel read on to
 * the datapath sub-reconciler after changing entries, instead of costing the pass a second full
 * read (on a node with 1,000 remote ports that read is most of the pass). Links are untouched:
 * entry operations never create, delete or move a device. Every full pass still reads for real.
 */
import { ZERO_MAC } from '../../model/kernel-names.js';
import type { Op } from './ops.js';
import type { ActualFdb, ActualNeigh, ActualState } from './types.js';

/** Whether kernel entry `e` is the one `bridge fdb … mac dev (dst | master)` addresses. */
function sameFdb(e: ActualFdb, o: { mac: string; dev: string; dst: string | null }, replace: boolean): boolean {
  if (e.mac !== o.mac || e.dev !== o.dev) return false;
  if (o.dst === null) return e.master;
  // `replace` of a unicast MAC rewrites its one VTEP entry; `append` (all-zero MAC) and `del` name one dst.
  return !e.master && e.dst !== null && (replace && o.mac !== ZERO_MAC ? true : e.dst === o.dst);
}

/** `actual` with entry operations `ops` (all of them applied successfully) applied; other ops are refused. */
export function withEntryOps(actual: ActualState, ops: readonly Op[]): ActualState {
  let fdb: ActualFdb[] = [...actual.fdb];
  let neigh: ActualNeigh[] = [...actual.neigh];
  for (const o of ops) {
    switch (o.op) {
      case 'fdb-add':
        fdb = fdb.filter((e) => !sameFdb(e, o, true));
        fdb.push({
          mac: o.mac,
          dev: o.dev,
          dst: o.dst,
          master: o.dst === null,
          state: o.dst !== null && o.mac === ZERO_MAC ? 'permanent' : 'static',
        });
        break;
      case 'fdb-del':
        fdb = fdb.filter((e) => !sameFdb(e, o, false));
        break;
      case 'neigh-set':
        neigh = neigh.filter((n) => !(n.ip === o.ip && n.dev === o.dev));
        neigh.push({ ip: o.ip, dev: o.dev, mac: o.mac, permanent: true });
        break;
      case 'neigh-del':
        neigh = neigh.filter((n) => !(n.ip === o.ip && n.dev === o.dev));
        break;
      default:
        throw new Error(`withEntryOps: ${o.op} is not an entry operation`);
    }
  }
  return { ...actual, fdb, neigh };
}
