/**
 * Registration and heartbeats: `POST /v2.0/agents` (idempotent per host, retried with backoff until
 * the server answers), then `PUT /v2.0/agents/{id}` `{heartbeat: true}` every few seconds; a 404
 * (agent deleted on the server) registers again. The node's WireGuard public key goes with the
 * registration, and with the next heartbeat after a key rotation.
 */
import { ApiError, type ApiClient } from '../../client/api.js';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { Agent } from '../../model/types.js';
import { AGENT_ENCRYPTION_STATUS, AGENT_WG_PUBLIC_KEY, type EncryptionStatus } from '../../model/encryption.js';
import { CUSTOM_ROUTE_INTERFACE_KEY } from '../../model/custom-route.js';
import { Backoff } from './backoff.js';
import type { NodeInfo } from '../datapath/types.js';

export const AGENT_TYPE = 'hypernet agent';
export const AGENT_BINARY = 'hypernet-agent';

export interface RegistrationOptions {
  api: Pick<ApiClient, 'create' | 'update'>;
  clock: Clock;
  log: Logger;
  node: NodeInfo;
  cloud: string;
  capabilities: string[];
  /** The hyperswitch's own ENI (custom-route mode), reported as `configurations.custom_route_interface`. */
  customRouteInterface?: string;
  intervalMs?: number;
  /** The node's WireGuard public key now (the encrypted overlay; a rotation changes it). */
  publicKey?: () => string;
  /** Called once the server accepted a new public key (the node then switches to it). */
  onKeySent?: () => void;
  /** The encrypted overlay's status, sent with a heartbeat when it changed (stored quietly). */
  encryptionStatus?: () => EncryptionStatus;
  /** Called when the server answers again after registrations or heartbeats failed. */
  onServerBack?: () => void;
}

export class Registration {
  agentId: string | null = null;
  /** The public key the server has: a different one is sent with the next heartbeat. */
  sentKey: string | undefined;
  private sentStatus = '';
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly o: RegistrationOptions) {}

  /** Registers once (throws on failure). */
  async register(): Promise<Agent> {
    const { node } = this.o;
    const key = this.o.publicKey?.();
    const agent = await this.o.api.create<Agent>('agents', 'agent', {
      host: node.host,
      agent_type: AGENT_TYPE,
      binary: AGENT_BINARY,
      configurations: {
        tunneling_ip: node.underlayIp,
        cloud: this.o.cloud,
        underlay_mtu: node.underlayMtu,
        capabilities: this.o.capabilities,
        ...(this.o.customRouteInterface ? { [CUSTOM_ROUTE_INTERFACE_KEY]: this.o.customRouteInterface } : {}),
      },
      ...(key ? { [AGENT_WG_PUBLIC_KEY]: key } : {}),
    });
    this.sentKey = key;
    this.sentStatus = '';
    this.agentId = agent.id;
    this.o.log.info({ agent: agent.id, host: node.host }, 'registered');
    return agent;
  }

  /** Registers (retrying until it works or stop), then heartbeats until stop. */
  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    const { clock, log } = this.o;
    const backoff = new Backoff(250, 5_000);
    const interval = this.o.intervalMs ?? 3_000;
    while (!this.stopped) {
      try {
        if (!this.agentId) await this.register();
        else {
          const key = this.o.publicKey?.();
          const rotated = key && key !== this.sentKey ? { [AGENT_WG_PUBLIC_KEY]: key } : {};
          const status = this.o.encryptionStatus?.();
          const statusJson = status ? JSON.stringify(status) : '';
          const changed = status && statusJson !== this.sentStatus ? { [AGENT_ENCRYPTION_STATUS]: status } : {};
          await this.o.api.update('agents', 'agent', this.agentId, { heartbeat: true, ...rotated, ...changed });
          this.sentKey = key;
          this.sentStatus = statusJson;
          if (key && 'hypernet:wireguard_public_key' in rotated) this.o.onKeySent?.();
        }
        if (backoff.failing) this.o.onServerBack?.();
        backoff.reset();
        await clock.sleep(interval);
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) this.agentId = null;
        log.warn({ err: (e as Error).message }, this.agentId ? 'heartbeat failed' : 'registration failed');
        await clock.sleep(backoff.next());
      }
    }
  }
}
