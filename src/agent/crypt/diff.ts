/**
 * Pure: desired WireGuard state vs what the kernel and `wg` report → operations, in one safe order:
 * interface → key and port → MTU/TX queue/up → wireguard-go's socket buffers and RPS → address → peers added or changed → stale peers removed →
 * handshakes → stale addresses removed; the guard table last (and whenever its text changes). A new
 * peer key of a host (rotation) is set before the old one goes, so its allowed addresses move in one
 * step.
 *
 * After a key changes, on this node or a peer, the side that changes last starts the handshakes at
 * once: the other side's attempt may have failed moments before (it used the new key while this side
 * still had the old one) and WireGuard would only retry it after its 5 s rekey timeout.
 */
import type { ActualWg, DesiredPeer, DesiredWg, WgImpl, WgOp } from './types.js';

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join() === [...b].sort().join();

export function diffWg(d: DesiredWg, a: ActualWg, impl: WgImpl, appliedNft: string | null): WgOp[] {
  const ops: WgOp[] = [];
  const iface = d.iface;
  const fresh = !a.exists;
  if (fresh) ops.push({ op: 'create', iface, impl });
  if (fresh || a.publicKey !== d.publicKey || a.listenPort !== d.listenPort)
    ops.push({ op: 'set-key', iface, privateKeyFile: d.privateKeyFile, listenPort: d.listenPort });
  const txq = impl === 'userspace' && d.txQueueLen > 0 ? d.txQueueLen : 0;
  const link = fresh || a.mtu !== d.mtu || !a.up || (txq > 0 && a.txQueueLen !== txq);
  if (link) ops.push({ op: 'link', iface, mtu: d.mtu, ...(txq ? { txQueueLen: txq } : {}) });
  // wireguard-go binds its sockets once it is up with a port; a new socket has the default buffer again.
  const rebound = fresh || link || ops.some((o) => o.op === 'set-key');
  if (impl === 'userspace' && d.socketBuffer > 0 && (rebound || (a.socketBuffer ?? 0) < d.socketBuffer))
    ops.push({ op: 'sockbuf', iface, bytes: d.socketBuffer });
  // Set with the link (a new interface starts without it); not read back every pass.
  if (impl === 'userspace' && d.rpsCpus && link) ops.push({ op: 'rps', iface, cpus: d.rpsCpus });
  const have = fresh ? [] : a.addresses;
  if (d.address && !have.includes(d.address)) ops.push({ op: 'addr-add', iface, cidr: d.address });
  const actualPeers = new Map((fresh ? [] : a.peers).map((p) => [p.publicKey, p]));
  for (const p of d.peers) {
    const got = actualPeers.get(p.publicKey);
    if (!got || (p.endpoint !== null && got.endpoint !== p.endpoint) || !sameSet(got.allowedIps, p.allowedIps))
      ops.push({ op: 'peer-set', iface, peer: p });
  }
  const wanted = new Set(d.peers.map((p) => p.publicKey));
  const stale = [...actualPeers.values()].filter((p) => !wanted.has(p.publicKey));
  for (const p of stale) ops.push({ op: 'peer-del', iface, publicKey: p.publicKey });
  const ownKeyChanged = !fresh && ops.some((o) => o.op === 'set-key');
  // A peer whose key replaces a stale one (same allowed addresses): that peer rotated its key.
  const rotatedPeer = (p: DesiredPeer): boolean =>
    !actualPeers.has(p.publicKey) && stale.some((s) => s.allowedIps.some((ip) => p.allowedIps.includes(ip)));
  const nudge = d.peers.filter((p) => p.endpoint !== null && (ownKeyChanged || rotatedPeer(p)));
  if (nudge.length) ops.push({ op: 'handshake', iface, publicKeys: nudge.map((p) => p.publicKey) });
  for (const cidr of have) if (cidr !== d.address) ops.push({ op: 'addr-del', iface, cidr });
  if (appliedNft !== d.nft) ops.push({ op: 'nft', text: d.nft });
  return ops;
}
