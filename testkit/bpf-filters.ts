/**
 * Whether a lab VM's tap carries the tc-BPF security-group program (the agent's `--firewall tc-bpf`):
 * what the network tests and bench:datapath check before they count a run as filtered by tc-BPF.
 */
import type { Exec } from '../src/common/exec.js';
import { BPF_PROGS } from '../src/agent/firewall/bpf/driver.js';

/** True when `tap`, in namespace `ns`, has the program on its tc ingress hook (frames from the port). */
export async function hasBpfProgram(exec: Exec, ns: string, tap: string): Promise<boolean> {
  const r = await exec('ip', ['netns', 'exec', ns, 'tc', 'filter', 'show', 'dev', tap, 'ingress'], {
    allowFail: true,
  });
  return r.stdout.includes(BPF_PROGS.ingress);
}
