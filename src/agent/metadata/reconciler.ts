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
import type { DhcpDesired } from '../dhcp/types.js';
import { join } from 'node:path';
import { compileMetadata } from './compile.js';
import { MetadataDriver, metadataDir } from './driver.js';
import { MetadataSigner } from './signer.js';

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

  constructor(private readonly o: MetadataReconcilerOptions) {
    const socket = join(metadataDir(o.stateDir), 'agent.sock');
    this.signer = new MetadataSigner({ api: o.api, secret: o.secret, socket, log: o.log });
    this.driver = new MetadataDriver({ ...o, socket });
  }

  async reconcile(model: ModelView, pass?: PassContext): Promise<void> {
    const dhcp = this.o.dhcpDesired();
    if (!dhcp) return;
    const desired = compileMetadata({ host: this.o.host, dhcp, ports: model.ports.values() });
    this.signer.update(desired.identities);
    await this.signer.start();
    const key = JSON.stringify(desired.networks);
    if (pass && !pass.full && key === this.appliedKey) return;
    this.appliedKey = null;
    const r = await this.driver.apply(desired);
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
