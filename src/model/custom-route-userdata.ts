/**
 * The `user_data` of a custom-route VM in mode `in-addition`: a `#cloud-config` whose runcmd adds the
 * hyper IP as a secondary address of the VM's default-route interface and routes the hyper subnets
 * through the VPC's router from that address, so the VM sends from its hyper IP (the VPC route table
 * takes the packets to the hyperswitch). Nothing else is installed. Mode `instead` needs no user_data.
 */
import { stringify } from 'yaml';
import { isIp, parseCidr } from './grammar/addresses.js';

export function customRouteUserData(hyperIp: string, hyperCidrs: readonly string[]): string {
  // Both reach a shell command line: only the strict grammar passes.
  if (!isIp(hyperIp, 4)) throw new Error(`bad hyper IP ${hyperIp}`);
  const cidrs = hyperCidrs.map((c) => parseCidr(c).text);
  const script = [
    'set -e',
    "dev=$(ip -4 route show default | awk '{print $5; exit}')",
    "gw=$(ip -4 route show default | awk '{print $3; exit}')",
    `ip addr replace ${hyperIp}/32 dev "$dev"`,
    ...cidrs.map((c) => `ip route replace ${c} via "$gw" dev "$dev" src ${hyperIp}`),
  ].join('\n');
  return `#cloud-config\n${stringify({ runcmd: [['sh', '-c', script]] }, { lineWidth: 0 })}`;
}
