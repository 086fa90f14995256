/**
 * The custom-route sub-reconciler of a hyperswitch: compile, read the kernel, diff, apply. It runs
 * before the datapath, which then bridges each port's `tap<id>` like any port interface (security
 * groups and anti-spoofing included). A port whose binding does not compile is logged (once per
 * reason) and left out; the others are served.
 */
import type { Logger } from '../../common/log.js';
import type { ModelView } from '../../model/model-cache.js';
import type { PassContext, SubReconciler } from '../loop/reconciler.js';
import { compileCustomRoutes } from './compile.js';
import { diffCustomRoutes } from './diff.js';
import type { CustomRouteDriver } from './driver.js';

export class CustomRouteReconciler implements SubReconciler {
  readonly name = 'custom-route';
  /** Whether the last pass found anything to own (when not, a pass that is not full skips the read). */
  private owned = true;
  private readonly reported = new Map<string, string>();

  constructor(private readonly o: { host: string; driver: CustomRouteDriver; log: Logger }) {}

  async reconcile(model: ModelView, pass?: PassContext): Promise<void> {
    const desired = compileCustomRoutes(this.o.host, model);
    for (const [port, why] of desired.errors)
      if (this.reported.get(port) !== why) {
        this.reported.set(port, why);
        this.o.log.warn({ port, err: why }, 'custom-route port not served');
      }
    for (const port of this.reported.keys()) if (!desired.errors.has(port)) this.reported.delete(port);
    if (!desired.ports.length && !this.owned && pass && !pass.full) return;
    const actual = await this.o.driver.read();
    const ops = diffCustomRoutes(desired, actual);
    const errors: string[] = [];
    for (const op of ops) {
      try {
        await this.o.driver.apply(op);
      } catch (e) {
        errors.push(`${op.op}${'obj' in op ? ` ${op.obj.kind} ${op.obj.key}` : ''}: ${(e as Error).message}`);
      }
    }
    this.owned = desired.ports.length > 0 || actual.objects.length > 0 || actual.nftTag !== null;
    if (ops.length) this.o.log.info({ ops: ops.length, ports: desired.ports.length }, 'custom-route ports applied');
    if (errors.length) throw new Error(errors.join('; '));
  }
}
