/**
 * Pure: desired datapath vs what the kernel reports → the ordered operations that converge it.
 * The one ordering: bridges → vxlans → ports → FDB/neighbours are added first; then deletions in
 * reverse (FDB/neighbours → ports released → vxlans → bridges). Only objects recognisable as ours
 * are ever changed or deleted (model/kernel-names.ts); what already matches gets no operation (adoption).
 */
import { VXLAN_DSTPORT, ZERO_MAC, isOurBridge, isOurVxlan, isTap } from '../../model/kernel-names.js';
import type { Op } from './ops.js';
import type { ActualFdb, ActualNeigh, ActualState, DesiredState, FdbEntry } from './types.js';

/** The phases, in execution order. */
enum Phase {
  Bridge,
  Vxlan,
  Port,
  AddEntries,
  DelEntries,
  ReleasePort,
  DelVxlan,
  DelBridge,
}
const PHASES = 8;

const fdbKey = (e: { mac: string; dev: string; dst: string | null }): string =>
  `${e.mac}|${e.dev}|${e.dst ?? 'master'}`;
const neighKey = (n: { ip: string; dev: string }): string => `${n.ip}|${n.dev}`;

/**
 * Key tables of entry lists, memoised by list identity: a desired list lives as long as its model
 * revision, a kernel one until the agent changes something (the datapath step diffs the list the
 * fast path left), and at 1,000 remote ports building them on every diff was most of a pass.
 * Lists are never mutated (frozen, or rebuilt on change).
 */
function byList<T extends object, R>(build: (list: readonly T[]) => R): (list: readonly T[]) => R {
  const memo = new WeakMap<readonly T[], R>();
  return (list) => {
    const hit = memo.get(list);
    if (hit !== undefined) return hit;
    const r = build(list);
    memo.set(list, r);
    return r;
  };
}
/** Our FDB entries in the kernel by key. */
const ownedFdbByKey = byList((l: readonly ActualFdb[]) => new Map(l.filter(ownedFdb).map((e) => [fdbKey(e), e])));
/** Keys of a desired list, in list order and as a set. */
const keysBy = <T extends object>(key: (e: T) => string) =>
  byList((l: readonly T[]) => {
    const list = l.map(key);
    return { list, set: new Set(list) };
  });
const fdbKeys = keysBy(fdbKey);
const neighKeys = keysBy(neighKey);
const unicastMacDevs = byList(
  (l: readonly FdbEntry[]) =>
    new Set(l.filter((e) => e.dst !== null && e.mac !== ZERO_MAC).map((e) => `${e.mac}|${e.dev}`)),
);
/** Permanent neighbours on our bridges by key. */
const permanentNeigh = byList(
  (l: readonly ActualNeigh[]) =>
    new Map(l.filter((n) => n.permanent && isOurBridge(n.dev)).map((n) => [neighKey(n), n])),
);

/** FDB entries of ours in the kernel: on our vxlan devices, with a VTEP (`self`) or bridge `static`. */
export function ownedFdb(e: ActualFdb): boolean {
  if (!isOurVxlan(e.dev)) return false;
  return e.master ? e.state === 'static' : e.dst !== null;
}

export function diffDatapath(desired: DesiredState, actual: ActualState): Op[] {
  const phases: Op[][] = Array.from({ length: PHASES }, () => []);
  const emit = (p: Phase, o: Op): void => void phases[p].push(o);
  /** Devices (re)created or deleted in this run: their kernel entries are gone with them. */
  const fresh = new Set<string>();
  /** Bridges whose MAC this run sets: the kernel flushes their neighbour entries, permanent ones too. */
  const neighFlushed = new Set<string>();

  // Bridges and VXLAN devices.
  const wantedLinks = new Set<string>();
  for (const n of desired.networks) {
    wantedLinks.add(n.bridge).add(n.vxlan);
    const br = actual.links.get(n.bridge);
    if (br?.kind !== 'bridge') {
      if (br) emit(Phase.Bridge, { op: 'link-del', name: n.bridge });
      emit(Phase.Bridge, { op: 'bridge-add', name: n.bridge, mtu: n.mtu, mac: n.bridgeMac });
      emit(Phase.Bridge, { op: 'link-set', name: n.bridge, up: true });
      fresh.add(n.bridge);
    } else if (br.mtu !== n.mtu || !br.up || br.mac !== n.bridgeMac) {
      emit(Phase.Bridge, {
        op: 'link-set',
        name: n.bridge,
        ...(br.mtu !== n.mtu ? { mtu: n.mtu } : {}),
        ...(!br.up ? { up: true } : {}),
        ...(br.mac !== n.bridgeMac ? { mac: n.bridgeMac } : {}),
      });
      if (br.mac !== n.bridgeMac) neighFlushed.add(n.bridge);
    }

    const vx = actual.links.get(n.vxlan);
    const x = vx?.vxlan;
    const matches =
      vx &&
      vx.kind === 'vxlan' &&
      x &&
      x.vni === n.vni &&
      x.local === n.local &&
      x.port === VXLAN_DSTPORT &&
      !x.learning;
    if (!matches) {
      if (vx) emit(Phase.Vxlan, { op: 'link-del', name: n.vxlan });
      emit(Phase.Vxlan, { op: 'vxlan-add', name: n.vxlan, vni: n.vni, local: n.local, mtu: n.mtu });
      emit(Phase.Vxlan, { op: 'link-set', name: n.vxlan, master: n.bridge });
      emit(Phase.Vxlan, { op: 'bport-set', name: n.vxlan, learning: false, neighSuppress: true });
      emit(Phase.Vxlan, { op: 'link-set', name: n.vxlan, up: true });
      fresh.add(n.vxlan);
    } else {
      const set: Op & { op: 'link-set' } = { op: 'link-set', name: n.vxlan };
      if (vx.master !== n.bridge || fresh.has(n.bridge)) set.master = n.bridge;
      if (vx.mtu !== n.mtu) set.mtu = n.mtu;
      if (set.master || set.mtu) emit(Phase.Vxlan, set);
      const bp = actual.bridgePorts.get(n.vxlan);
      if (set.master || !bp || bp.learning || !bp.neighSuppress)
        emit(Phase.Vxlan, { op: 'bport-set', name: n.vxlan, learning: false, neighSuppress: true });
      if (!vx.up) emit(Phase.Vxlan, { op: 'link-set', name: n.vxlan, up: true });
    }
  }

  // Local ports: taps that exist are enslaved, sized and set up; missing ones wait for "nova".
  const wantedTaps = new Set<string>();
  for (const p of desired.ports) {
    wantedTaps.add(p.tap);
    const tap = actual.links.get(p.tap);
    if (!tap) continue;
    const set: Op & { op: 'link-set' } = { op: 'link-set', name: p.tap };
    if (tap.master !== p.bridge || fresh.has(p.bridge)) set.master = p.bridge;
    if (tap.mtu !== p.mtu) set.mtu = p.mtu;
    if (tap.up !== p.up) set.up = p.up;
    if (set.master !== undefined || set.mtu !== undefined || set.up !== undefined) emit(Phase.Port, set);
  }

  // Links of ours that are no longer wanted; taps left on our bridges are released.
  const gone = new Set<string>();
  for (const l of actual.links.values()) {
    if (wantedLinks.has(l.name)) continue;
    const phase = isOurVxlan(l.name) ? Phase.DelVxlan : isOurBridge(l.name) ? Phase.DelBridge : null;
    if (phase === null) continue;
    emit(phase, { op: 'link-del', name: l.name });
    gone.add(l.name);
  }
  for (const l of actual.links.values()) {
    if (!isTap(l.name) || !l.master || !isOurBridge(l.master) || gone.has(l.master)) continue;
    if (!wantedTaps.has(l.name)) emit(Phase.ReleasePort, { op: 'link-set', name: l.name, master: null });
  }

  // FDB: add what is missing, delete ours that is not wanted (unless its device goes anyway).
  const dead = (dev: string): boolean => fresh.has(dev) || gone.has(dev);
  const owned =
    fresh.size || gone.size
      ? new Map([...ownedFdbByKey(actual.fdb)].filter(([, e]) => !dead(e.dev)))
      : ownedFdbByKey(actual.fdb);
  const want = fdbKeys(desired.fdb);
  const wantMacDev = unicastMacDevs(desired.fdb);
  desired.fdb.forEach((e, i) => {
    if (!owned.has(want.list[i]!)) emit(Phase.AddEntries, { op: 'fdb-add', ...pickFdb(e) });
  });
  for (const [k, e] of owned) {
    if (want.set.has(k)) continue;
    // A unicast MAC moved to another VTEP is rewritten by `replace`; deleting the old dst would fail.
    if (e.dst !== null && e.mac !== ZERO_MAC && wantMacDev.has(`${e.mac}|${e.dev}`)) continue;
    emit(Phase.DelEntries, { op: 'fdb-del', mac: e.mac, dev: e.dev, dst: e.dst });
  }

  // Neighbours: permanent entries on our bridges.
  const haveNeigh =
    fresh.size || gone.size || neighFlushed.size
      ? new Map([...permanentNeigh(actual.neigh)].filter(([, n]) => !dead(n.dev) && !neighFlushed.has(n.dev)))
      : permanentNeigh(actual.neigh);
  const wantNeigh = neighKeys(desired.neigh);
  desired.neigh.forEach((n, i) => {
    if (haveNeigh.get(wantNeigh.list[i]!)?.mac !== n.mac)
      emit(Phase.AddEntries, { op: 'neigh-set', ip: n.ip, mac: n.mac, dev: n.dev });
  });
  for (const [k, n] of haveNeigh) {
    if (wantNeigh.set.has(k)) continue;
    emit(Phase.DelEntries, { op: 'neigh-del', ip: n.ip, dev: n.dev });
  }

  return phases.flat();
}

const pickFdb = (e: FdbEntry): FdbEntry => ({ mac: e.mac, dev: e.dev, dst: e.dst });
