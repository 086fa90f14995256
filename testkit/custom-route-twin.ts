/**
 * The native twin of the custom-route world, the fair baseline of bench:custom-route: the same hops
 * (VM → VPC router → hyperswitch → underlay → node B → peer VM) as namespaces and veths of the same
 * shape, addresses and MTUs, but plain IP routing through them: no agent, so no NAT, bridge, VXLAN or
 * netfilter on the path (checked before it is used). The VM keeps its VPC address and the peer its
 * hyper IP; the return path is routed back the same way.
 */
import type { Exec } from '../src/common/exec.js';
import { addNetns, addVethPair, sysctlIn } from '../src/lab/netns.js';
import { HYPER, PEER_IP, UNDERLAY } from './custom-route-world.js';

/** The twin's namespaces, the VM's address and the peer's. */
export interface CustomRouteTwin {
  vm: string;
  peer: string;
  namespaces: string[];
  vmIp: string;
  peerIp: string;
}

const VM_IP = '10.20.2.50';
const HS_IP = '10.20.2.51';
const VPC_ROUTER = '10.20.2.1';
/** The peer's gateway on node B (its default route: the VM's VPC address is not in its subnet). */
const PEER_GW = '10.99.0.1';

/** Builds the twin under `prefix` (the caller sweeps it); fails when a netfilter table is in it. */
export async function buildCustomRouteTwin(exec: Exec, prefix: string): Promise<CustomRouteTwin> {
  const ns = {
    vm: `${prefix}vm`,
    router: `${prefix}router`,
    hs: `${prefix}hs`,
    nb: `${prefix}nb`,
    peer: `${prefix}peer`,
  };
  for (const n of Object.values(ns)) await addNetns(exec, n);
  for (const n of [ns.router, ns.hs, ns.nb]) await sysctlIn(exec, n, 'net.ipv4.ip_forward', 1);
  const ip = (n: string, ...args: string[]) => exec('ip', ['-n', n, ...args]);
  // The VPC router: a /32 per plugged interface with proxy ARP, as NetnsVpcDataplane plugs an ENI.
  for (const [end, addr, link] of [
    [ns.vm, VM_IP, 'rvm'],
    [ns.hs, HS_IP, 'rhs'],
  ] as const) {
    await addVethPair(exec, ns.router, link, end, 'eth0');
    await ip(end, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
    await ip(end, 'link', 'set', 'eth0', 'up');
    await ip(end, 'route', 'add', 'default', 'via', VPC_ROUTER, 'dev', 'eth0');
    await ip(ns.router, 'addr', 'add', `${VPC_ROUTER}/32`, 'dev', link);
    await ip(ns.router, 'link', 'set', link, 'up');
    await sysctlIn(exec, ns.router, `net.ipv4.conf.${link}.proxy_arp`, 1);
    await sysctlIn(exec, ns.router, `net.ipv4.neigh.${link}.proxy_delay`, 0);
    await ip(ns.router, 'route', 'add', `${addr}/32`, 'dev', link);
  }
  // The route table: the hyper subnet behind the hyperswitch.
  await ip(ns.router, 'route', 'add', HYPER, 'via', HS_IP, 'dev', 'rhs', 'onlink');
  // The underlay, and the hyper subnet routed to node B (there the overlay would carry it).
  await addVethPair(exec, ns.hs, 'u0', ns.nb, 'u0');
  for (const [n, a] of [
    [ns.hs, UNDERLAY.hs],
    [ns.nb, UNDERLAY.nb],
  ] as const) {
    await ip(n, 'addr', 'add', `${a}/24`, 'dev', 'u0');
    await ip(n, 'link', 'set', 'u0', 'up');
  }
  await ip(ns.hs, 'route', 'add', HYPER, 'via', UNDERLAY.nb, 'dev', 'u0');
  await ip(ns.nb, 'route', 'add', '10.20.0.0/16', 'via', UNDERLAY.hs, 'dev', 'u0');
  // The peer on node B's "tap", at the overlay's MTU, as on the overlay path.
  await addVethPair(exec, ns.nb, 'tap0', ns.peer, 'eth0');
  await ip(ns.nb, 'addr', 'add', `${PEER_GW}/24`, 'dev', 'tap0');
  await ip(ns.nb, 'link', 'set', 'tap0', 'mtu', '1450', 'up');
  await ip(ns.peer, 'addr', 'add', `${PEER_IP}/24`, 'dev', 'eth0');
  await ip(ns.peer, 'link', 'set', 'eth0', 'mtu', '1450', 'up');
  await ip(ns.peer, 'route', 'add', 'default', 'via', PEER_GW, 'dev', 'eth0');
  for (const n of Object.values(ns)) {
    const r = await exec('ip', ['netns', 'exec', n, 'nft', 'list', 'ruleset'], { allowFail: true });
    if (r.stdout.trim()) throw new Error(`the native twin must have no netfilter, but ${n} has:\n${r.stdout}`);
  }
  return { vm: ns.vm, peer: ns.peer, namespaces: Object.values(ns), vmIp: VM_IP, peerIp: PEER_IP };
}
