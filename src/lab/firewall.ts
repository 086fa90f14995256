/**
 * The lab agents' security-group mode (`LabOptions.firewall`): nftables by default, or tc-BPF. In
 * tc-BPF mode each agent pins its programs and maps under a directory of its lab's own (the agents run
 * with the host's mounts, and two labs both have an `hs-a`), which `lab down` removes.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CloudPlan, LabPlan } from './plan.js';

/** Where every tc-BPF agent pins its objects: the agent's default root. */
const BPF_ROOT = '/sys/fs/bpf/hypernet';

const pinPrefix = (prefix: string): string => `lab-${prefix}`;

/** The agent's flags for the lab's firewall mode (none for the default, nftables). */
export function firewallAgentArgs(plan: Pick<LabPlan, 'prefix' | 'firewall'>, c: Pick<CloudPlan, 'hostId'>): string[] {
  if (plan.firewall !== 'tc-bpf') return [];
  return ['--firewall', 'tc-bpf', '--bpf-pin-dir', join(BPF_ROOT, `${pinPrefix(plan.prefix)}${c.hostId}`)];
}

/** Unpins what a tc-BPF lab of `prefix` pinned (after its namespaces, and so its taps, are gone); the names removed. */
export function removeLabBpfPins(prefix: string): string[] {
  if (!existsSync(BPF_ROOT)) return [];
  const mine = readdirSync(BPF_ROOT).filter((n) => n.startsWith(pinPrefix(prefix)));
  for (const n of mine) rmSync(join(BPF_ROOT, n), { recursive: true, force: true });
  return mine;
}
