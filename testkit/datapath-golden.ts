/**
 * The datapath's golden file (test/agent/datapath/golden/child-input.txt): what the agent writes to
 * its long-lived children to build one node's datapath from nothing: the batches on the `ip` and
 * `bridge` children (with the marker that ends each answer) and the gratuitous-ARP requests to the
 * raw frame sender. The test only reads it; `npm run update-goldens` (a person, after checking the
 * diff) rewrites it, so a test never blesses its own output.
 */
import { fileURLToPath } from 'node:url';
import { garpFrames } from '../src/agent/datapath/announce.js';
import { compileDatapath } from '../src/agent/datapath/compile.js';
import { diffDatapath } from '../src/agent/datapath/diff.js';
import { applyOps } from '../src/agent/datapath/driver.js';
import type { ActualLink, ActualState } from '../src/agent/datapath/types.js';
import { MARKER } from '../src/common/batch-session.js';
import type { Exec } from '../src/common/exec.js';
import { agent, net, port, view } from './model-fixtures.js';

// dist/testkit → test/agent/datapath/golden in the source tree
export const DATAPATH_GOLDEN = fileURLToPath(
  new URL('../../test/agent/datapath/golden/child-input.txt', import.meta.url),
);

const P1 = 'aaaaaaaa-bbbb-cccc-dddd-000000000001';

/** One local port (its tap made by "nova"), remote ports on two other nodes, one with an extra address. */
function goldenCase() {
  const node = { host: 'hostA', underlayIp: '192.0.2.1', underlayMtu: 1500 };
  const model = view({
    networks: [net('n1', 100)],
    agents: [
      agent('a1', 'hostA', '192.0.2.1'),
      agent('a2', 'hostB', '192.0.2.2'),
      agent('a3', 'hostC', '198.51.100.3'),
    ],
    ports: [
      port(P1, 'n1', 'hostA', 'fa:16:3e:00:00:01', ['10.0.1.1']),
      port('p2', 'n1', 'hostB', 'fa:16:3e:00:00:02', ['10.0.1.2'], {
        allowed_address_pairs: [{ ip_address: '10.0.1.50', mac_address: '' }],
      }),
      port('p3', 'n1', 'hostC', 'fa:16:3e:00:00:03', ['10.0.1.3']),
    ],
  });
  const tap: ActualLink = {
    name: 'tapaaaaaaaa-bb',
    kind: null,
    mtu: 1500,
    mac: 'fe:16:3e:00:00:01',
    up: false,
    master: null,
    vxlan: null,
  };
  const kernel: ActualState = { links: new Map([[tap.name, tap]]), bridgePorts: new Map(), fdb: [], neigh: [] };
  return { desired: compileDatapath(node, model), kernel };
}

/** The golden text: each batch as its child reads it, then the frames of the port's announcement. */
export async function datapathGoldenText(): Promise<string> {
  const { desired, kernel } = goldenCase();
  const out: string[] = [];
  const record: Exec = async (cmd, args, opts) => {
    out.push(`# ${cmd} ${args.join(' ')}`, `${opts?.input ?? ''}${MARKER}`);
    return { stdout: '', stderr: '', code: 0 };
  };
  await applyOps(record, diffDatapath(desired, kernel));
  const p = desired.ports[0]!;
  out.push('# hn-rawsend (gratuitous ARP of the local port)');
  for (const f of garpFrames({ portId: p.portId, bridge: p.bridge, mac: p.mac, ips: ['10.0.1.1'] }))
    out.push(`${p.bridge} ${f}`);
  return `${out.join('\n')}\n`;
}
