/**
 * The HyperVM feature's sub-reconciler: compiles the containers of this node, lists those on disk,
 * diffs, and applies. A launch runs in the background (a pull takes seconds; the loop must keep wiring
 * taps meanwhile) through the steps the server shows: PULLING (take the single-use token, pull and
 * verify the image), STARTING (unpack, configure, start), ACTIVE — or ERROR with the reason, leaving
 * nothing behind. It runs before the datapath, which then enslaves the container's veth like a tap.
 */
import { ApiClient, ApiError } from '../../client/api.js';
import { pullImage, type PullOptions, type PullResult } from '../../client/repository-pull.js';
import { pushExport } from '../../client/repository-push.js';
import { openConsole } from '../../client/console.js';
import type { Logger } from '../../common/log.js';
import type { HyperVmStatus } from '../../model/types.js';
import type { ModelView } from '../../model/model-cache.js';
import type { SubReconciler } from '../loop/reconciler.js';
import { compileHyperVms, containerName } from './compile.js';
import type { HyperVmLaunch } from '../../model/hypervm-userdata.js';
import { diffHyperVms } from './diff.js';
import type { LxcDriver } from './driver.js';
import type { DesiredContainer } from './types.js';

export interface HyperVmReconcilerOptions {
  api: ApiClient;
  driver: LxcDriver;
  host: string;
  /** The provider address the token is bound to: pulls leave from it. */
  providerIp: string;
  /** The repository's base URL (its own listener on the provider network, or `<server>/repository`). */
  repositoryUrl: string;
  log: Logger;
  /** Wakes the loop when a launch ends (its container now exists, or its HyperVM failed). */
  onLaunchDone?: () => void;
  /**
   * The launch this node's user_data carried (a provider-launched HyperVM): its token is used instead
   * of asking the server, once; its port must be the one the model binds here.
   */
  launch?: HyperVmLaunch;
  /** The puller (tests may wrap it). */
  pull?: (o: PullOptions) => Promise<PullResult>;
}

interface LaunchToken {
  token: string;
  image_id: string;
}

export class HyperVmReconciler implements SubReconciler {
  readonly name = 'hypervm';
  private readonly launching = new Map<string, Promise<void>>();
  /** Exports under way (snapshot, migration), by container name. */
  private readonly exporting = new Map<string, Promise<void>>();
  /** Tasks this node ended, by container name → task image, until the model shows the change. */
  private readonly ended = new Map<string, string>();
  /** Console sessions this node dialled back for already. */
  private readonly consoles = new Set<string>();
  /** HyperVMs this node already reported as failed (until the server's ERROR arrives). */
  private readonly failed = new Set<string>();
  /** The user_data's token, until a launch takes it. */
  private carried: HyperVmLaunch | undefined;

  constructor(private readonly o: HyperVmReconcilerOptions) {
    this.carried = o.launch;
  }

  async reconcile(model: ModelView): Promise<void> {
    const { driver } = this.o;
    const desired = compileHyperVms(this.o.host, model);
    // The server took the token to put it into this node's user_data: it is spent for the server, not here.
    const own = this.carried && desired.get(containerName(this.carried.hypervm_id));
    if (own) desired.set(own.name, { ...own, tokenSpent: false });
    const busy = new Set([...this.launching.keys(), ...this.exporting.keys()]);
    for (const [name, image] of this.ended) {
      const c = desired.get(name);
      if (c?.task !== '' && c?.taskImageId === image) busy.add(name);
      else this.ended.delete(name);
    }
    const ops = diffHyperVms(desired, await driver.list(), busy);
    const errors: string[] = [];
    for (const op of ops) {
      try {
        if (op.op === 'destroy') {
          await driver.destroy(op.name);
          this.o.log.info({ container: op.name }, 'hypervm container removed');
        } else if (op.op === 'launch') this.startLaunch(op.c);
        else if (op.op === 'export') this.startExport(op.c);
        else if (op.op === 'end-task') await this.endTask(op.c, op.reason);
        else if (op.op === 'start') {
          await driver.start(op.c.name);
          await this.report(op.c, 'ACTIVE');
        } else if (op.op === 'active') await this.report(op.c, 'ACTIVE');
        else if (!this.failed.has(op.c.id)) {
          this.failed.add(op.c.id);
          await this.report(op.c, 'ERROR', op.reason);
        }
      } catch (e) {
        errors.push(`${op.op}: ${(e as Error).message}`);
      }
    }
    const running = new Set((await driver.list()).filter((a) => a.running).map((a) => a.name));
    for (const c of desired.values())
      if (c.consoleSession !== '' && !this.consoles.has(c.consoleSession) && running.has(c.name)) {
        this.consoles.add(c.consoleSession);
        this.console(c).catch((e) => this.o.log.warn({ hypervm: c.id, err: (e as Error).message }, 'console failed'));
      }
    if (errors.length) throw new Error(errors.join('; '));
  }

  /** Dials the server back for a console session and joins it to a shell in the container. */
  private async console(c: DesiredContainer): Promise<void> {
    const socket = await openConsole(this.o.api, c.id, c.consoleSession);
    const sh = this.o.driver.attach(c.name);
    socket.pipe(sh.stdin as NodeJS.WritableStream);
    sh.stdout?.pipe(socket, { end: false });
    sh.stderr?.pipe(socket, { end: false });
    const end = () => {
      socket.end();
      if (sh.exitCode === null) sh.kill();
    };
    sh.on('close', end);
    sh.on('error', end);
    socket.on('close', end);
    socket.on('error', end);
    this.o.log.info({ hypervm: c.id }, 'hypervm console attached');
  }

  /** Resolves when no launch is under way (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.launching.size || this.exporting.size)
      await Promise.allSettled([...this.launching.values(), ...this.exporting.values()]);
  }

  private startExport(c: DesiredContainer): void {
    const run = this.export(c).finally(() => {
      this.exporting.delete(c.name);
      this.o.onLaunchDone?.();
    });
    this.exporting.set(c.name, run);
  }

  /**
   * A snapshot or migration: (stop,) repack the rootfs onto the container's layout, take the task's
   * one upload token, send the layout through the repository, and end the task. A migration's stopped
   * container is started again by the loop if the task fails; on success the server moves the
   * HyperVM to the target node and this node's loop removes the container.
   */
  private async export(c: DesiredContainer): Promise<void> {
    const { driver, log } = this.o;
    const started = Date.now();
    try {
      if (c.task === 'migrate') {
        await this.step(c, 'stopping');
        await driver.stop(c.name);
        await this.step(c, 'stopped');
      }
      await this.step(c, 'exporting');
      const layoutDir = await driver.exportLayout(c.name);
      const tok = await this.o.api.call<{ upload_token: LaunchToken }>(
        'POST',
        `/v2.0/hypervms/${encodeURIComponent(c.id)}/upload_token`,
      );
      let shown = -1;
      const bytes = await pushExport({
        repositoryUrl: this.o.repositoryUrl,
        token: tok.upload_token.token,
        imageId: c.taskImageId,
        layoutDir,
        localAddress: this.o.providerIp,
        onProgress: (sent, total) => {
          // A few steps, not every chunk: each is a write the CLI polls for.
          const pct = Math.floor((sent / total) * 4) * 25;
          if (pct === shown) return;
          shown = pct;
          this.step(c, `uploading ${pct}%`).catch(() => undefined);
        },
      });
      await this.endTask(c);
      log.info({ hypervm: c.id, task: c.task, bytes, ms: Date.now() - started }, 'hypervm exported');
    } catch (e) {
      const reason = (e as Error).message.slice(0, 900);
      log.warn({ hypervm: c.id, task: c.task, reason }, 'hypervm export failed');
      await this.endTask(c, reason).catch(() => undefined);
    }
  }

  /** Tells the server the task is over (with the error when it failed); holds the container until the model shows it. */
  private async endTask(c: DesiredContainer, error?: string): Promise<void> {
    this.ended.set(c.name, c.taskImageId);
    await this.o.api.call('POST', `/v2.0/hypervms/${encodeURIComponent(c.id)}/task_end`, {
      task_end: error === undefined ? {} : { error },
    });
  }

  /** The task's step as the server shows it. */
  private async step(c: DesiredContainer, state: string): Promise<void> {
    await this.o.api.update('hypervms', 'hypervm', c.id, { task_state: state });
  }

  private startLaunch(c: DesiredContainer): void {
    const run = this.launch(c).finally(() => {
      this.launching.delete(c.name);
      this.o.onLaunchDone?.();
    });
    this.launching.set(c.name, run);
  }

  private async launch(c: DesiredContainer): Promise<void> {
    const { driver, log } = this.o;
    const started = Date.now();
    try {
      await this.report(c, 'PULLING');
      await driver.prepare(c.name);
      const token = await this.tokenFor(c);
      const pulled = await (this.o.pull ?? pullImage)({
        repositoryUrl: this.o.repositoryUrl,
        token,
        imageId: c.imageId,
        dest: driver.layoutDir(c.name),
        localAddress: this.o.providerIp,
      });
      await this.report(c, 'STARTING');
      await driver.create(c);
      await driver.start(c.name);
      await this.report(c, 'ACTIVE');
      log.info({ hypervm: c.id, bytes: pulled.bytes, ms: Date.now() - started }, 'hypervm launched');
    } catch (e) {
      const reason = (e as Error).message.slice(0, 1000);
      log.warn({ hypervm: c.id, reason }, 'hypervm launch failed');
      await driver.destroy(c.name).catch(() => undefined);
      this.failed.add(c.id);
      await this.report(c, 'ERROR', reason).catch(() => undefined);
    }
  }

  /** The user_data's token for its own HyperVM (once, its port checked), else the server's launch token. */
  private async tokenFor(c: DesiredContainer): Promise<string> {
    const carried = this.carried;
    if (carried?.hypervm_id === c.id) {
      this.carried = undefined;
      if (carried.port.mac_address.toLowerCase() !== c.mac)
        throw new Error(`the user_data's port (MAC ${carried.port.mac_address}) is not the one bound here (${c.mac})`);
      return carried.token;
    }
    const tok = await this.o.api.call<{ launch_token: LaunchToken }>(
      'POST',
      `/v2.0/hypervms/${encodeURIComponent(c.id)}/launch_token`,
    );
    return tok.launch_token.token;
  }

  /** Writes the HyperVM's status; one deleted meanwhile is no error. */
  private async report(c: DesiredContainer, status: HyperVmStatus, reason = ''): Promise<void> {
    try {
      await this.o.api.update('hypervms', 'hypervm', c.id, { status, status_reason: reason });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return;
      throw e;
    }
  }
}
