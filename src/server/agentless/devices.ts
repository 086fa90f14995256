/**
 * Who a device (the VM an agentless port or hyperswitch serves) belongs to. Neutron's device_id is
 * free text, yet the provider acts on it (a per-VM hyperswitch, in the lab the VM's namespace), so a
 * device belongs to the project that first placed an agentless port or a hyperswitch on it, for as
 * long as one remains. Naming another project's device is refused: to a tenant it does not exist
 * (404, as anything of another project), an admin is told whose it is (409).
 */
import { DEVICE_ID_RULE, isDeviceId } from '../../model/grammar/device-id.js';
import type { ProviderDriver } from '../../model/provider.js';
import { faults, NeutronFault } from '../errors.js';
import type { Ctx } from '../resource.js';

/** The projects holding agentless ports or hyperswitches of `device`, in every cloud. */
async function deviceProjects(provider: ProviderDriver, device: string): Promise<Set<string>> {
  const nics = await provider.getNetworkInterfaces({ device_ids: [device] });
  const hss = await provider.getHyperswitchs({ device_ids: [device] });
  return new Set([...nics.map((n) => n.tenant_id), ...hss.flatMap((h) => (h.tenant_id ? [h.tenant_id] : []))]);
}

/**
 * Checks that `project` may place something on `device`: a well-formed id, held by no other project.
 * Run inside the changes lock, so no other create claims the device between this check and the create.
 */
export async function checkDevice(ctx: Ctx, provider: ProviderDriver, device: string, project: string): Promise<void> {
  if (!isDeviceId(device)) throw faults.invalidInput(`device_id '${device}' must be ${DEVICE_ID_RULE}`);
  const other = [...(await deviceProjects(provider, device))].find((p) => p !== project);
  if (other === undefined) return;
  if (!ctx.caller.isAdmin) throw new NeutronFault(404, 'DeviceNotFound', `Device ${device} could not be found.`);
  throw faults.conflict('DeviceInUse', `Device ${device} belongs to project ${other}, not ${project}.`);
}
