/**
 * A router's external gateways (Neutron's `external_gateway_info`, `ext-gw-mode` and
 * `external-gateway-multihoming`). Each gateway is a `network:router_gateway` port on an external
 * network; hypernet allows one gateway per cloud (the cloud is the network's `hypernet:cloud`), so
 * workloads egress in their own cloud. The list's first gateway is the one `external_gateway_info`
 * shows. A gateway that floating IPs use cannot be removed or moved to another network.
 */
import { OWNER_ROUTER_GATEWAY } from '../../model/device-owners.js';
import type { ExternalGateway, Port, Router, Subnet } from '../../model/types.js';
import type { WriteTx } from '../store/store.js';
import { faults } from '../errors.js';
import type { Ctx } from '../resource.js';
import { deletePortInTx } from '../resources/ports.js';
import { cloudOf, mustGetExternal } from './external-networks.js';
import { gatewayPort, interfacePorts, routerPortStatus } from './router-ports.js';
import { createServicePort, updateServicePort } from './service-ports.js';
import { badRouter, checkRouterSubnets } from './subnet-overlap.js';

export interface GatewayRequest {
  network_id: string;
  enable_snat?: boolean;
  external_fixed_ips?: { subnet_id?: string; ip_address?: string }[];
}

/** Neutron's default policy: only an admin chooses SNAT or the gateway's addresses. */
export function checkGatewayPolicy(ctx: Ctx, wanted: readonly GatewayRequest[], action: string): void {
  if (ctx.caller.isAdmin) return;
  for (const g of wanted) {
    for (const key of ['enable_snat', 'external_fixed_ips'] as const) {
      if (g[key] !== undefined)
        throw faults.forbidden(`(rule:${action}:external_gateway_info:${key}) is disallowed by policy`);
    }
  }
}

/** Refuses a change that takes away a gateway floating IPs of the router reach their network by. */
async function checkNotUsedByFloatingIps(tx: WriteTx, routerId: string, networkId: string): Promise<void> {
  const used = (await tx.list('floatingip')).some(
    (f) => f.router_id === routerId && f.floating_network_id === networkId,
  );
  if (used) {
    throw faults.conflict(
      'RouterExternalGatewayInUseByFloatingIp',
      `Gateway cannot be updated for router ${routerId}, since a gateway to external network ${networkId} is ` +
        'required by one or more floating IPs.',
    );
  }
}

function sameAddresses(port: Port, wanted: GatewayRequest['external_fixed_ips']): boolean {
  if (wanted === undefined) return true;
  if (wanted.length !== port.fixed_ips.length) return false;
  return wanted.every((w) =>
    port.fixed_ips.some(
      (f) =>
        (w.subnet_id === undefined || w.subnet_id === f.subnet_id) &&
        (w.ip_address === undefined || w.ip_address === f.ip_address),
    ),
  );
}

/**
 * Brings the router's gateways to `wanted`, in that order, and returns them: removes gateways no
 * longer wanted, re-addresses kept ones whose `external_fixed_ips` changed, creates new ones.
 */
export async function applyGateways(
  ctx: Ctx,
  tx: WriteTx,
  router: Router,
  wanted: readonly GatewayRequest[],
): Promise<ExternalGateway[]> {
  const byCloud = new Map<string, string>();
  for (const w of wanted) {
    const net = await mustGetExternal(tx, w.network_id, 'router');
    const cloud = cloudOf(net);
    const other = byCloud.get(cloud);
    if (other !== undefined) {
      throw badRouter(
        `Router ${router.id} can have one external gateway per cloud, and networks ${other} and ${net.id} are ` +
          `both in cloud '${cloud}'`,
      );
    }
    byCloud.set(cloud, net.id);
  }
  const keep = new Set(wanted.map((w) => w.network_id));
  for (const g of router.external_gateways) {
    if (keep.has(g.network_id)) continue;
    await checkNotUsedByFloatingIps(tx, router.id, g.network_id);
    const port = await gatewayPort(tx, router.id, g.network_id);
    if (port) await deletePortInTx(tx, port);
  }
  const interfaces = await interfacePorts(tx, router.id);
  const out: ExternalGateway[] = [];
  for (const w of wanted) {
    let port = await gatewayPort(tx, router.id, w.network_id);
    if (port && !sameAddresses(port, w.external_fixed_ips)) {
      await checkNotUsedByFloatingIps(tx, router.id, w.network_id);
      port = await updateServicePort(ctx, tx, port, { fixed_ips: w.external_fixed_ips });
    } else if (!port) {
      port = await createServicePort(ctx, tx, {
        networkId: w.network_id,
        projectId: '',
        deviceOwner: OWNER_ROUTER_GATEWAY,
        deviceId: router.id,
        fixedIps: w.external_fixed_ips,
        status: routerPortStatus(router),
      });
    }
    if (port.fixed_ips.length === 0) {
      throw faults.badRequest(
        `Unable to find any IP address on external network ${w.network_id}.`,
        'ExternalIpAddressExhausted',
      );
    }
    const subnets: Subnet[] = [];
    for (const f of port.fixed_ips) {
      const s = await tx.get('subnet', f.subnet_id);
      if (s) subnets.push(s);
    }
    await checkRouterSubnets(tx, interfaces, subnets);
    out.push({ network_id: w.network_id, enable_snat: w.enable_snat ?? true, external_fixed_ips: port.fixed_ips });
  }
  return out;
}

/** Removes every gateway (router delete); the caller has checked that no floating IP needs them. */
export async function removeGateways(tx: WriteTx, router: Router): Promise<void> {
  for (const g of router.external_gateways) {
    const port = await gatewayPort(tx, router.id, g.network_id);
    if (port) await deletePortInTx(tx, port);
  }
}
