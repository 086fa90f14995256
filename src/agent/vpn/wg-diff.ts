/**
 * The agentless WireGuard diff (pure), for what the encrypted overlay's diff (../crypt/diff.ts, which
 * this reuses for the interface and its peers) does not cover: our routes (found by their protocol
 * number), proxy ARP entries on the hyper network's bridges, and IPv4 forwarding on the interfaces
 * involved. Additions come first, then removals, so a port that changes addresses is never unrouted.
 */
import { BRIDGE_PREFIX } from '../../model/kernel-names.js';
import type { WgaDesired, WgaRoute } from './wg-compile.js';

export interface WgaActual {
  routes: readonly WgaRoute[];
  /** Proxy ARP entries on bridges of ours. */
  proxies: readonly { ip: string; dev: string }[];
  /** Interfaces whose `forwarding` is 1. */
  forwarding: readonly string[];
}

export type WgaOp =
  | { op: 'forward'; dev: string }
  | { op: 'route-add' | 'route-del'; route: WgaRoute }
  | { op: 'proxy-add' | 'proxy-del'; ip: string; dev: string };

const k = (x: { dev: string }, y: string) => `${y} ${x.dev}`;

export function diffWga(d: WgaDesired | null, a: WgaActual): WgaOp[] {
  const ops: WgaOp[] = [];
  const routes = d?.routes ?? [];
  const proxies = d?.proxies ?? [];
  for (const dev of d?.forwarding ?? []) if (!a.forwarding.includes(dev)) ops.push({ op: 'forward', dev });
  const haveR = new Set(a.routes.map((r) => k(r, r.dst)));
  const wantR = new Set(routes.map((r) => k(r, r.dst)));
  for (const r of routes) if (!haveR.has(k(r, r.dst))) ops.push({ op: 'route-add', route: r });
  const haveP = new Set(a.proxies.map((p) => k(p, p.ip)));
  const wantP = new Set(proxies.map((p) => k(p, p.ip)));
  for (const p of proxies) if (!haveP.has(k(p, p.ip))) ops.push({ op: 'proxy-add', ...p });
  for (const r of a.routes) if (!wantR.has(k(r, r.dst))) ops.push({ op: 'route-del', route: r });
  for (const p of a.proxies)
    if (p.dev.startsWith(BRIDGE_PREFIX) && !wantP.has(k(p, p.ip))) ops.push({ op: 'proxy-del', ...p });
  return ops;
}
