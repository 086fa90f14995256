/**
 * Pure: desired vs actual custom-route state → ordered operations. Forwarding first; then adds in
 * dependency order (link → proxy entry → neighbours → routes → rules → NAT); then deletions in reverse.
 * A link made again (missing, or its MAC, MTU, peer or state differs) takes its addresses-free
 * dependants with it, so those are added again too. Routes and neighbours are written with
 * `replace`, so a changed one is one add.
 */
import type { CrActual, CrDesired, CrObject, CrOp } from './types.js';

const ORDER: readonly CrObject['kind'][] = ['link', 'proxy', 'neigh', 'route', 'rule'];

const canonical = (o: CrObject): string => JSON.stringify(o, Object.keys(o).sort());
const id = (o: CrObject): string => `${o.kind} ${o.key}`;
const devOf = (o: CrObject): string | undefined =>
  o.kind === 'proxy' || o.kind === 'neigh' ? o.dev : o.kind === 'route' ? o.dev : undefined;

export function diffCustomRoutes(d: CrDesired, a: CrActual): CrOp[] {
  const have = new Map(a.objects.map((o) => [id(o), o]));
  const want = new Map(d.objects.map((o) => [id(o), o]));
  const differs = (o: CrObject): boolean => {
    const h = have.get(id(o));
    return !h || canonical(h) !== canonical(o);
  };
  const fresh = new Set(d.objects.filter((o) => o.kind === 'link' && differs(o)).map((o) => o.key));
  const adds = d.objects.filter((o) => {
    const dev = devOf(o);
    return differs(o) || (dev !== undefined && fresh.has(dev));
  });
  const dels = a.objects.filter((o) => !want.has(id(o)));
  const rank = (o: CrObject) => ORDER.indexOf(o.kind);
  const ops: CrOp[] = [];
  if (d.ports.length && !a.forwarding) ops.push({ op: 'forwarding' });
  for (const o of [...adds].sort((x, y) => rank(x) - rank(y))) ops.push({ op: 'add', obj: o });
  if (d.nft !== null && a.nftTag !== d.nftTag) ops.push({ op: 'nft', text: d.nft, tag: d.nftTag });
  if (d.nft === null && a.nftTag !== null) ops.push({ op: 'nft', text: null, tag: '' });
  for (const o of [...dels].sort((x, y) => rank(y) - rank(x))) ops.push({ op: 'del', obj: o });
  return ops;
}
