/**
 * The pure compile of the real agent, for each simulated agent of bench:scale: on a model change it
 * waits the reconciler's coalescing pause, skips the pass when the compiled inputs did not change
 * (compiledInputsKey, as the agent's loop), else compiles the datapath and, when a local port needs
 * filtering, the firewall, as the datapath and firewall sub-reconcilers do before touching the kernel.
 * It reports each compile's time and which revision it covered, so the simulator times a create up to
 * the compile that includes it.
 */
import { compileDatapath } from '../src/agent/datapath/compile.js';
import { FirewallCompiler } from '../src/agent/firewall/compile.js';
import { firewallInput } from '../src/agent/firewall/reconciler.js';
import { isTrusted } from '../src/agent/firewall/model.js';
import { compiledInputsKey } from '../src/agent/main.js';
import type { NodeInfo } from '../src/agent/datapath/types.js';
import type { ModelCache } from '../src/model/model-cache.js';

/** The agent's coalescing pause after a wake-up (main.ts: `coalesceMs`). */
const COALESCE_MS = 5;

export class SimCompile {
  private key = '';
  private scheduled = false;
  private readonly firewall = new FirewallCompiler();

  constructor(
    private readonly node: NodeInfo,
    private readonly cache: ModelCache,
    /** Called after each compile (or skip) with the model revision it covered and its time, ms. */
    private readonly onCompiled: (revision: number, ms: number, skipped: boolean) => void,
  ) {}

  /** The model changed (the watch loop's onChange): compile soon, once for a burst of changes. */
  changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.run();
    }, COALESCE_MS);
  }

  private run(): void {
    if (!this.cache.ready) return;
    const t0 = performance.now();
    const model = this.cache.view();
    const key = compiledInputsKey(model);
    if (key === this.key) {
      this.onCompiled(model.revision, performance.now() - t0, true);
      return;
    }
    this.key = key;
    compileDatapath(this.node, model);
    const input = firewallInput(this.node.host, model, 'bridge-ct');
    if (input.localPorts.some((lp) => !isTrusted(lp.port))) this.firewall.compile(input);
    this.onCompiled(model.revision, performance.now() - t0, false);
  }
}
