/**
 * The metadata sub-reconciler: glue between the model and src/agent/metadata/ (compileMetadata →
 * MetadataDriver, and the signer's identity table). It runs after DHCP, whose namespaces its
 * proxies live in; a namespace not there yet (DHCP applies in the background) is retried by the
 * loop. The signer always answers from the latest compile, so a port that leaves stops being
 * served at once.
 */
import type { ApiClient } from '../../client/api.js';
import type { Clock } from '../../common/clock.js';
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';
import type { ModelView } from '../../model/model-cache.js';
import type { PassContext, SubReconciler } from '../loop/reconciler.js';
import { PrefetchedRead } from '../loop/prefetched-read.js';
import type { DhcpDesired } from '../dhcp/types.js';
import { join } from 'node:path';
import { compileMetadata } from './compile.js';
import { MetadataDriver, metadataDir } from './driver.js';
import { MetadataSigner } from './signer.js';
import type { MetadataActual, MetadataDesired } from './types.js';

export interface MetadataReconcilerOptions {
  api: Pick<ApiClient, 'requestOptions'>;
  exec: Exec;
  clock: Clock;
  log: Logger;
  host: string;
  netnsPrefix: string;
  stateDir: string;
  /** `metadata_proxy_shared_secret`, the server's too. */
  secret: string;
  /** The DHCP state last compiled (the networks served here and their namespaces). */
  dhcpDesired: () => DhcpDesired | null;
}

export class MetadataReconciler implements SubReconciler {
  readonly name = 'metadata';
  readonly signer: MetadataSigner;
  private readonly driver: MetadataDriver;
  private appliedKey: string | null = null;
  /** The latest desired state and its key: what a full pass's read made ahead checks. */
  private last: { desired: MetadataDesired; key: string } | null = null;
  /** The full pass's read (a few programs per network), made ahead so a port's pass does not wait for it. */
  private readonly fullRead: PrefetchedRead<MetadataActual>;

  constructor(private readonly o: MetadataReconcilerOptions) {
    const socket = join(metadataDir(o.stateDir), 'agent.sock');
    this.signer = new MetadataSigner({ api: o.api, secret: o.secret, socket, log: o.log });
    this.driver = new MetadataDriver({ ...o, socket });
    this.fullRead = new PrefetchedRead((key) => {
      if (!this.last || this.last.key !== key) return Promise.reject(new Error('desired state changed'));
      return this.driver.actual(this.last.desired);
    });
  }

  async prepareFull(): Promise<void> {
    if (this.last) await this.fullRead.prefetch(this.last.key);
  }

  async reconcile(model: ModelView, pass?: PassContext): Promise<void> {
    const dhcp = this.o.dhcpDesired();
    if (!dhcp) return;
    const desired = compileMetadata({ host: this.o.host, dhcp, ports: model.ports.values() });
    this.signer.update(desired.identities);
    await this.signer.start();
    const key = JSON.stringify(desired.networks);
    this.last = { desired, key };
    if (pass && !pass.full && key === this.appliedKey) return;
    this.appliedKey = null;
    const read = pass && !pass.full ? undefined : await this.fullRead.take(key);
    const r = await this.driver.apply(desired, read).finally(() => this.fullRead.spoil());
    const errors = [
      ...r.networks.filter((n) => n.status !== 'ok').map((n) => `vni ${n.vni}: ${n.status} ${n.error ?? ''}`.trim()),
      ...r.stopErrors.map((e) => `stop vni ${e.vni}: ${e.error}`),
    ];
    if (errors.length) throw new Error(errors.join('; '));
    this.appliedKey = key;
  }

  /** The agent's stop: the socket goes; the proxies stay for the next start to adopt. */
  close(): Promise<void> {
    return this.signer.close();
  }
}
