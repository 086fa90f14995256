/**
 * The datapath operations the diff emits and how each one is written as a line of
 * `ip -batch -` or `bridge -batch -`. Operations are idempotent where iproute2 allows it
 * (`replace`, `flush`), so re-running a batch after a partial failure is safe.
 */
import { VXLAN_DSTPORT, ZERO_MAC } from '../../model/kernel-names.js';

export type Op =
  | { op: 'bridge-add'; name: string; mtu: number; mac: string }
  | { op: 'vxlan-add'; name: string; vni: number; local: string; mtu: number }
  | { op: 'link-del'; name: string }
  /** `master: null` releases the link from its bridge (nomaster). */
  | { op: 'link-set'; name: string; master?: string | null; mtu?: number; up?: boolean; mac?: string }
  | { op: 'bport-set'; name: string; learning: boolean; neighSuppress: boolean }
  | { op: 'fdb-add'; mac: string; dev: string; dst: string | null }
  | { op: 'fdb-del'; mac: string; dev: string; dst: string | null }
  | { op: 'neigh-set'; ip: string; mac: string; dev: string }
  | { op: 'neigh-del'; ip: string; dev: string };

export type Tool = 'ip' | 'bridge';

const ENTRY_OPS = new Set<Op['op']>(['fdb-add', 'fdb-del', 'neigh-set', 'neigh-del']);

/** An FDB or neighbour entry operation (on a device that must exist; it creates no device). */
export const isEntryOp = (o: Op): boolean => ENTRY_OPS.has(o.op);

/**
 * Whether a failed operation's end state holds anyway: a link to release from its bridge, or to
 * delete, that is gone already (a VM's tap vanishes with its namespace, often between the read and
 * the apply). Such a failure is no failure: nothing to retry.
 */
export function alreadyDone(o: Op, error: string): boolean {
  const gone = /Cannot find device|No such device/.test(error);
  return (
    gone &&
    ((o.op === 'link-set' && o.master === null && o.up === undefined && o.mtu === undefined) || o.op === 'link-del')
  );
}

const onOff = (b: boolean): string => (b ? 'on' : 'off');

/** The program and batch line for one operation. */
export function renderOp(o: Op): { tool: Tool; line: string } {
  switch (o.op) {
    case 'bridge-add':
      return { tool: 'ip', line: `link add name ${o.name} address ${o.mac} mtu ${o.mtu} type bridge` };
    case 'vxlan-add':
      return {
        tool: 'ip',
        line:
          `link add name ${o.name} mtu ${o.mtu} type vxlan id ${o.vni} local ${o.local} ` +
          `dstport ${VXLAN_DSTPORT} nolearning`,
      };
    case 'link-del':
      return { tool: 'ip', line: `link del dev ${o.name}` };
    case 'link-set': {
      const parts = [`link set dev ${o.name}`];
      if (o.master === null) parts.push('nomaster');
      else if (o.master !== undefined) parts.push(`master ${o.master}`);
      if (o.mtu !== undefined) parts.push(`mtu ${o.mtu}`);
      if (o.mac !== undefined) parts.push(`address ${o.mac}`);
      if (o.up !== undefined) parts.push(o.up ? 'up' : 'down');
      return { tool: 'ip', line: parts.join(' ') };
    }
    case 'bport-set':
      return {
        tool: 'bridge',
        line: `link set dev ${o.name} learning ${onOff(o.learning)} neigh_suppress ${onOff(o.neighSuppress)}`,
      };
    case 'fdb-add':
      if (o.dst === null) return { tool: 'bridge', line: `fdb replace ${o.mac} dev ${o.dev} master static` };
      if (o.mac === ZERO_MAC)
        return { tool: 'bridge', line: `fdb append ${o.mac} dev ${o.dev} dst ${o.dst} self permanent` };
      return { tool: 'bridge', line: `fdb replace ${o.mac} dev ${o.dev} dst ${o.dst} self static` };
    case 'fdb-del':
      if (o.dst === null) return { tool: 'bridge', line: `fdb del ${o.mac} dev ${o.dev} master` };
      return { tool: 'bridge', line: `fdb del ${o.mac} dev ${o.dev} dst ${o.dst} self` };
    case 'neigh-set':
      return { tool: 'ip', line: `neigh replace ${o.ip} lladdr ${o.mac} dev ${o.dev} nud permanent` };
    case 'neigh-del':
      // Not `neigh del`: on an entry already gone it makes ip exit, ending the whole batch (-force or not).
      return { tool: 'ip', line: `neigh flush to ${o.ip} dev ${o.dev} nud permanent` };
  }
}
