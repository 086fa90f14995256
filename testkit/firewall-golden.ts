/**
 * The firewall compiler's golden files (test/agent/firewall/golden/MODE.nft): the model they are
 * compiled from and their text. The test only reads them; `npm run update-goldens` (a person, after
 * checking the diff) rewrites them, so a test never blesses its own output.
 */
import { fileURLToPath } from 'node:url';
import { compileFirewall } from '../src/agent/firewall/compile.js';
import type { FirewallInput, FirewallMode } from '../src/agent/firewall/model.js';
import { fullText } from '../src/agent/firewall/render.js';
import { tapName } from '../src/model/kernel-names.js';
import { defaultGroup, makeGroup, makePort } from './firewall-fixtures.js';

/** Both conntrack modes have a golden file. */
export const GOLDEN_MODES: readonly FirewallMode[] = ['br-netfilter', 'bridge-ct'];

// dist/testkit → test/agent/firewall/golden in the source tree
const GOLDEN_DIR = fileURLToPath(new URL('../../test/agent/firewall/golden/', import.meta.url));

export const goldenFile = (mode: FirewallMode): string => `${GOLDEN_DIR}${mode}.nft`;

/** The ruleset the golden file of `mode` holds (fixed table generation 0x1234). */
export const goldenText = (mode: FirewallMode): string => fullText(compileFirewall(goldenModel(mode)), 0x1234);

/** Two groups (one with a remote group), four local ports (one with port security off, one DHCP), one remote. */
export function goldenModel(mode: FirewallMode): FirewallInput {
  const web = makeGroup('web', [
    { id: 'w1', direction: 'ingress', protocol: 'tcp', port_range_min: 80, port_range_max: 443 },
    {
      id: 'w2',
      direction: 'ingress',
      protocol: 'icmp',
      port_range_min: 8,
      port_range_max: 0,
      remote_ip_prefix: '10.0.0.0/8',
    },
    { id: 'w3', direction: 'ingress', protocol: 'udp', ethertype: 'IPv6', remote_ip_prefix: 'fd00::/64' },
    { id: 'w4', direction: 'egress', protocol: '47' },
  ]);
  const a = makePort(
    {
      id: 'aaaaaaaa-0000-4000-8000-000000000001',
      mac_address: 'FA:16:3E:00:00:01',
      security_groups: ['web', 'default'],
      allowed_address_pairs: [
        { ip_address: '10.0.1.100', mac_address: '' },
        { ip_address: '10.0.9.0/24', mac_address: 'fa:16:3e:00:00:99' },
      ],
    },
    ['10.0.1.11', 'fd00::11'],
  );
  const b = makePort(
    { id: 'bbbbbbbb-0000-4000-8000-000000000002', mac_address: 'fa:16:3e:00:00:02', security_groups: ['default'] },
    ['10.0.1.12'],
  );
  const off = makePort(
    { id: 'cccccccc-0000-4000-8000-000000000003', mac_address: 'fa:16:3e:00:00:03', port_security_enabled: false },
    ['10.0.1.13'],
  );
  const dhcp = makePort(
    { id: 'dddddddd-0000-4000-8000-000000000004', mac_address: 'fa:16:3e:00:00:04', device_owner: 'network:dhcp' },
    ['10.0.1.2'],
  );
  const remote = makePort(
    {
      id: 'eeeeeeee-0000-4000-8000-000000000005',
      mac_address: 'fa:16:3e:00:00:05',
      security_groups: ['default'],
      'binding:host_id': 'node2',
    },
    ['10.0.1.21'],
  );
  const local = [b, a, off, dhcp];
  return {
    mode,
    localPorts: local.map((port) => ({ port, ifname: tapName(port.id), vni: 1001 })),
    securityGroups: [web, defaultGroup('default')],
    allPorts: [...local, remote],
  };
}
