/**
 * What `lab up` and `lab status` print, as pure functions of plain data: step lines with timing,
 * the VM table, the ping matrix and the openstack CLI hint. Pure, so the text is unit-tested.
 */
import { textTable } from '../common/text-table.js';
import { type LabPlan, networkOfIp, tenantNetworks } from './plan.js';
import type { LabHyperVmRecord, LabVmRecord, LabVpcRecord } from './state.js';

/** One progress line: `[  1.23s] ✓ server (412 ms)`. */
export function stepLine(step: string, ms: number, sinceStartMs: number): string {
  return `[${(sinceStartMs / 1000).toFixed(2).padStart(6)}s] ✓ ${step} (${ms} ms)`;
}

/** The VM table; with several tenant networks (`--networks`) a column says which one each VM is on. */
export function vmTable(plan: LabPlan, vms: readonly LabVmRecord[]): string {
  const byHost = new Map(plan.clouds.map((c) => [c.hostId, c]));
  const several = tenantNetworks(plan).length > 1;
  return textTable(
    ['VM', 'cloud', 'hyper IP', ...(several ? ['network'] : []), 'MAC', 'hyperswitch', 'underlay IP'],
    vms.map((v) => [
      v.name,
      v.cloud,
      v.ip,
      ...(several ? [networkOfIp(plan, v.ip)?.name ?? '?'] : []),
      v.mac,
      v.hostId,
      byHost.get(v.hostId)?.underlayIp ?? v.underlayIp ?? '?',
    ]),
  );
}

/** The HyperVMs of `--hypervms`: their containers' hyper IPs and the nodes they run on. */
export function hyperVmTable(hvs: readonly LabHyperVmRecord[]): string {
  return textTable(
    ['HyperVM', 'cloud', 'hyper IP', 'node', 'id'],
    hvs.map((h) => [h.name, h.cloud, h.ip, h.hostId, h.id]),
  );
}

/** The vpc cloud's custom-route VMs: VPC address and ENI, hyper IP, mode and hyperswitch. */
export function vpcVmTable(vpc: LabVpcRecord): string {
  return textTable(
    ['VM (vpc)', 'mode', 'hyper IP', 'VPC IP', 'ENI', 'hyperswitch'],
    vpc.vms.map((v) => [v.name, v.mode, v.ip, v.vpcIp, v.eni, v.hostId]),
  );
}

/** Rows: from; columns: to. ✓ reached, ✗ not, · self. */
export function pingMatrixTable(names: readonly string[], matrix: readonly (readonly boolean[])[]): string {
  return textTable(
    ['from \\ to', ...names],
    names.map((n, i) => [n, ...names.map((_, j) => (i === j ? '·' : matrix[i][j] ? '✓' : '✗'))]),
  );
}

export function countFailures(matrix: readonly (readonly boolean[])[]): number {
  return matrix.reduce((sum, row, i) => sum + row.filter((ok, j) => i !== j && !ok).length, 0);
}

export function openstackHint(apiUrl: string | null): string {
  if (!apiUrl) return 'the API listens only on the Unix socket (no TCP port)';
  return `openstack --os-auth-type none --os-endpoint ${apiUrl} network list`;
}
