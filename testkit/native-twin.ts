/**
 * The native twin of a two-cloud lab, the fair baseline of the throughput benchmarks: the lab plan's
 * namespaces and links (VM → its cloud's hyperswitch → the internet → the other hyperswitch → VM),
 * built by the same plan code under another prefix but with no agent and routed natively, so no
 * overlay, nftables table or conntrack hook is on the path (checked before it is used).
 */
import type { Exec } from '../src/common/exec.js';
import { planLab, planNamespaces, type LabPlan } from '../src/lab/plan.js';
import { buildTopology, plugNative } from '../src/lab/topology.js';

/** The twin's plan, the namespaces of its two VMs and the second one's native address. */
export interface NativeTwin {
  plan: LabPlan;
  fromNs: string;
  toNs: string;
  toIp: string;
}

/**
 * Builds the twin under `prefix` (the caller sweeps it: a lab's down does not know it); fails when
 * any netfilter table is in its namespaces.
 */
export async function buildNativeTwin(
  exec: Exec,
  o: { prefix: string; stateDir: string; underlayMtu: number },
): Promise<NativeTwin> {
  const twin = planLab({ prefix: o.prefix, stateDir: o.stateDir, vmsPerCloud: 1, underlayMtu: o.underlayMtu });
  await buildTopology(exec, twin);
  const [va, vb] = twin.vms as [LabPlan['vms'][number], LabPlan['vms'][number]];
  await plugNative(exec, twin, va);
  const toIp = await plugNative(exec, twin, vb);
  for (const n of planNamespaces(twin)) {
    const r = await exec('ip', ['netns', 'exec', n, 'nft', 'list', 'ruleset'], { allowFail: true });
    const rules = r.stdout.trim();
    if (rules) throw new Error(`the native twin must have no netfilter, but ${n} has:\n${rules}`);
  }
  return { plan: twin, fromNs: va.ns, toNs: vb.ns, toIp };
}
