/**
 * Two throwaway nodes joined by a VXLAN overlay, for source-filtering tests and the benchmark: two
 * NodeEnvs (`<prefix>a-`, `<prefix>b-`), each with bridge hnb-1001 and VXLAN hnv-1001 to the other
 * over a veth underlay (192.0.2.1 and 192.0.2.2, documentation addresses). Workload MTUs leave room
 * for the VXLAN header. Nothing touches the root namespace; destroy() removes every namespace.
 */
import { realExec } from '../src/common/exec.js';
import { VXLAN_DSTPORT, VXLAN_OVERHEAD, bridgeName, vxlanName } from '../src/model/kernel-names.js';
import { listNetns } from './runs.js';
import { NodeEnv, type Workload } from './firewall-netenv.js';

export const OVERLAY_VNI = 1001;
const UNDERLAY = ['192.0.2.1', '192.0.2.2'] as const;

export class OverlayEnv {
  readonly nodes: readonly [NodeEnv, NodeEnv];

  constructor(readonly prefix: string) {
    this.nodes = [new NodeEnv(`${prefix}a-`), new NodeEnv(`${prefix}b-`)];
  }

  /** Removes namespaces left by an earlier run with this prefix. */
  async sweep(): Promise<void> {
    for (const n of await listNetns())
      if (n.startsWith(this.prefix)) await realExec('ip', ['netns', 'del', n], { allowFail: true });
  }

  async create(): Promise<void> {
    await this.sweep();
    const [a, b] = this.nodes;
    for (const n of this.nodes) await n.create([bridgeName(OVERLAY_VNI)]);
    await a.node('ip', ['link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', b.nodeNs]);
    for (const [i, n] of this.nodes.entries()) {
      await n.node('ip', ['addr', 'add', `${UNDERLAY[i]}/24`, 'dev', 'ul0']);
      await n.node('ip', ['link', 'set', 'ul0', 'up']);
      const vx = vxlanName(OVERLAY_VNI);
      await n.node('ip', [
        'link',
        'add',
        vx,
        'type',
        'vxlan',
        'id',
        String(OVERLAY_VNI),
        'local',
        UNDERLAY[i]!,
        'remote',
        UNDERLAY[1 - i]!,
        'dstport',
        String(VXLAN_DSTPORT),
        'dev',
        'ul0',
      ]);
      await n.node('ip', ['link', 'set', vx, 'master', bridgeName(OVERLAY_VNI), 'up']);
    }
  }

  /** A workload on node `node` (0 or 1), its MTU below the overlay's. */
  async addWorkload(node: 0 | 1, i: number, tap: string, mac: string, ip: string): Promise<Workload> {
    const w = await this.nodes[node].addWorkload(i, tap, mac, ip, bridgeName(OVERLAY_VNI));
    await w.exec('ip', ['link', 'set', 'eth0', 'mtu', String(1500 - VXLAN_OVERHEAD)]);
    return w;
  }

  async destroy(): Promise<void> {
    for (const n of this.nodes) await n.destroy();
  }
}
