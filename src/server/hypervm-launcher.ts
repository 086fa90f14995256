/**
 * The server side of provider-launched HyperVMs: a level-triggered controller over the store and the
 * provider. After every commit it compares the HyperVMs of clouds with `hypervm_provider` against the
 * provider's HyperVM VMs: a new one (BUILD, token not taken) is launched with its user_data (agent
 * config, port, repository, the launch's single-use token bound to the VM's provider address); a VM
 * whose HyperVM is gone is deleted with everything it ran, and its agent's record with it. A launch
 * that fails puts its HyperVM in ERROR with the reason; its token is spent, so it is not retried.
 */
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { SerialRuns } from '../common/serial-runs.js';
import { buildHyperVmUserData } from '../model/hypervm-userdata.js';
import type { ProviderDriver, ProviderHyperVm } from '../model/provider.js';
import type { HyperVm, Network, Port } from '../model/types.js';
import type { ServerConfig } from './config.js';
import { takeLaunchToken } from './hypervm-actions.js';
import { providerHyperVmCloud, providerHyperVmHost } from './hypervm-provider-clouds.js';
import type { Ctx } from './resource.js';
import { hypervms } from './resources/hypervms.js';
import type { HyperVmImages } from './resources/hypervm-images.js';
import type { Store } from './store/store.js';
import { storeUpdate } from './store-update.js';

export interface HyperVmLauncherOptions {
  store: Store;
  config: ServerConfig;
  provider: ProviderDriver;
  images: HyperVmImages;
  clock: Clock;
  log: Logger;
}

export class HyperVmLauncher {
  private readonly runs = new SerialRuns(async () => {
    try {
      await this.pass();
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'hypervm launcher pass failed');
    }
  });
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly o: HyperVmLauncherOptions) {}

  start(): void {
    this.unsubscribe = this.o.store.onCommit(() => this.kick());
    this.kick();
  }

  /** Stops watching; resolves when the pass under way is done. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.runs.idle();
  }

  /** Runs a pass now, or once more after the one under way (passes never overlap). */
  kick(): void {
    this.runs.kick();
  }

  private ctx(): Ctx {
    return { caller: { isAdmin: true, projectId: '' }, config: this.o.config, nowMs: this.o.clock.now() };
  }

  private async pass(): Promise<void> {
    const { store, provider, config } = this.o;
    const all = await store.read((tx) => tx.list('hypervm'));
    const mine = all.filter((hv) => providerHyperVmCloud(config, hv.cloud) && hv.host === providerHyperVmHost(hv.id));
    const vms = (await provider.getHyperVms?.()) ?? [];
    for (const hv of mine) {
      if (hv.status !== 'BUILD' || vms.some((v) => v.hypervm_id === hv.id)) continue;
      if (!hv.launch_token_issued) await this.launch(hv);
      // Passes do not overlap, so a spent token without a VM is a launch that broke off (the server
      // stopped half-way): it cannot be repeated with that token.
      else await this.fail(hv.id, 'provider launch interrupted: its token is spent');
    }
    for (const vm of vms) if (!mine.some((hv) => hv.id === vm.hypervm_id)) await this.remove(vm);
  }

  private async launch(hv: HyperVm): Promise<void> {
    const { store, provider, config, log } = this.o;
    const cloud = providerHyperVmCloud(config, hv.cloud)!;
    try {
      const { port, net } = await store.read(async (tx) => {
        const port = (await tx.get('port', hv.port_id)) as Port | undefined;
        const net = port && ((await tx.get('network', port.network_id)) as Network | undefined);
        return { port, net };
      });
      if (!port) throw new Error(`port ${hv.port_id} is gone`);
      const vm = await provider.launchHyperVm!({
        name: hv.host,
        hypervm_id: hv.id,
        flavor: hv.flavor,
        cloud: hv.cloud,
        user_data: async (providerIp) => {
          const t = await takeLaunchToken(this.o, this.ctx(), hv.id, async () => providerIp);
          return buildHyperVmUserData({
            server: cloud.agent_server_url,
            host: hv.host,
            cloud: hv.cloud,
            token: cloud.agent_token || undefined,
            launch: {
              hypervm_id: hv.id,
              image_id: hv.image_id,
              repository_url:
                cloud.hypervm_repository_url || `${cloud.agent_server_url.replace(/\/+$/, '')}/repository`,
              token: t.token,
              port: {
                id: port.id,
                hyper_ip: port.fixed_ips[0]?.ip_address ?? '',
                mac_address: port.mac_address,
                mtu: net?.mtu ?? 1450,
              },
            },
          });
        },
      });
      log.info({ hypervm: hv.id, vm: vm.id, provider_ip: vm.provider_ip }, 'hypervm provider VM launched');
    } catch (e) {
      const reason = `provider launch failed: ${(e as Error).message}`.slice(0, 1000);
      log.warn({ hypervm: hv.id, reason }, 'hypervm provider launch failed');
      await this.fail(hv.id, reason);
    }
  }

  private async fail(id: string, reason: string): Promise<void> {
    await this.o.store.write(async (tx) => {
      const now = await tx.get('hypervm', id);
      if (now) await storeUpdate(hypervms, this.ctx(), tx, { ...now, status: 'ERROR', status_reason: reason });
    });
  }

  /** Deletes a VM whose HyperVM is gone, then its agent's record (that node is no more). */
  private async remove(vm: ProviderHyperVm): Promise<void> {
    await this.o.provider.deleteHyperVm!(vm.id);
    await this.o.store.write(async (tx) => {
      for (const a of await tx.list('agent')) if (a.host === vm.id) await tx.remove('agent', a);
    });
    this.o.log.info({ hypervm: vm.hypervm_id, vm: vm.id }, 'hypervm provider VM deleted');
  }
}
