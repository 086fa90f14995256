/**
 * End to end (needs root): the real `hypernet` executable against a real server running the
 * agentless plugin with the lab provider (agentless-server.ts). `hypernet agentless` and
 * `hypernet hyperswitch` create/list/show/delete, filters, `--user-data-out` (the file holds exactly
 * the API's user_data, mode 0600 even over an existing wider file, and the private key is not
 * printed), `set` only for a move (--cloud; hyperswitches have none), HyperswitchInUse, and `hypernet status` showing
 * the hyperswitches and their agents.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentlessPortWire, HyperswitchWire } from '../../src/model/agentless.js';
import type { Port } from '../../src/model/types.js';
import { startAgentlessServer, type AgentlessServer } from './agentless-server.js';
import { cliRunner, hypernet } from './server.js';
import { isRoot, skipUnless } from '../../testkit/preconditions.js';

const skip = skipUnless(isRoot(), 'needs root (the lab provider makes namespaces)');

let srv: AgentlessServer;
let env: Record<string, string>;
let dir: string;
let ports: Port[] = [];

before(async () => {
  if (skip) return;
  srv = await startAgentlessServer('q');
  env = { HYPERNET_URL: srv.url };
  dir = mkdtempSync(join(tmpdir(), 'hn-ctl-agentless-'));
  const net = await srv.admin.create<{ id: string }>('networks', 'network', { name: 'al-net' });
  await srv.admin.create('subnets', 'subnet', { network_id: net.id, cidr: '10.0.7.0/24', ip_version: 4 });
  ports = await Promise.all(
    ['vm-a', 'vm-b', 'vm-c'].map((d) =>
      srv.admin.create<Port>('ports', 'port', { network_id: net.id, name: `${d}-port`, device_id: d }),
    ),
  );
});

after(async () => {
  await srv?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const { ok, json } = cliRunner(() => env);

test('agentless create --user-data-out, list with filters, show, set only --cloud, delete; hyperswitches follow', {
  skip,
  timeout: 300_000,
}, async () => {
  const [pa, pb, pc] = ports as [Port, Port, Port];
  // An existing, world-readable file: it must come out 0600 with exactly the user_data.
  const out = join(dir, 'vm-a.user-data');
  writeFileSync(out, 'old content', { mode: 0o644 });
  const made = await json<Record<string, unknown>>([
    'agentless',
    'create',
    '--port',
    'vm-a-port',
    '--device-id',
    'vm-a',
    '--flavor',
    '0G',
    '--user-data-out',
    out,
  ]);
  assert.match(String(made.id), /^eni-/);
  assert.equal(made.port_id, pa.id);
  assert.equal(made.user_data_file, out);
  assert.ok(!('user_data' in made), 'the private key is not printed');
  const api = await srv.admin.show<AgentlessPortWire>('agentlessports', 'agentlessport', String(made.id));
  assert.ok(api.user_data.includes('PRIVATE KEY'), 'the user_data holds the key');
  assert.equal(readFileSync(out, 'utf8'), api.user_data);
  assert.equal(statSync(out).mode & 0o777, 0o600);

  // table output names the file too; tenant level for the second (no device given)
  const out2 = join(dir, 'vm-b.user-data');
  const table = await ok(['agentless', 'create', '--port', pb.id, '--index', '1', '--user-data-out', out2]);
  assert.match(table, /\| port_id +\| [0-9a-f-]+ +\|/);
  assert.match(table, new RegExp(`\\| user_data_file +\\| ${out2.replace(/[.]/g, '\\.')} +\\|`));
  assert.doesNotMatch(table, /PRIVATE KEY/);
  const [b] = await srv.admin.list<AgentlessPortWire>('agentlessports', { port_id: pb.id });
  assert.equal(readFileSync(out2, 'utf8'), b!.user_data);
  assert.equal(b!.index, 1);

  // without --user-data-out the object is printed whole (scripts: -o json)
  const c = await json<AgentlessPortWire>([
    'agentless',
    'create',
    '--port',
    'vm-c-port',
    '--device-id',
    'vm-c',
    '--vpn-type',
    'wireguard',
  ]);
  assert.equal(c.vpn_type, 'wireguard');
  assert.match(c.user_data, /wg-quick@hypernet/);
  assert.equal(
    c.user_data,
    (await srv.admin.show<AgentlessPortWire>('agentlessports', 'agentlessport', c.id)).user_data,
  );

  // list and filters
  const list = await ok(['agentless', 'list']);
  assert.match(list, /\| ID +\| Port +\| Device +\| Index +\| Flavor +\| VPN +\| Provider IP +\| Hyperswitch +\|/);
  for (const id of [made.id, b!.id, c.id]) assert.match(list, new RegExp(`\\| ${id} \\|`));
  assert.deepEqual(
    (await json<AgentlessPortWire[]>(['agentless', 'list', '--port', 'vm-b-port'])).map((x) => x.id),
    [b!.id],
  );
  assert.deepEqual(
    (await json<AgentlessPortWire[]>(['agentless', 'list', '--filter', 'device_id=vm-c'])).map((x) => x.id),
    [c.id],
  );
  assert.deepEqual(
    (await json<AgentlessPortWire[]>(['agentless', 'list', '--filter', 'index=1'])).map((x) => x.id),
    [b!.id],
  );
  assert.deepEqual(await json(['agentless', 'list', '--filter', 'device_id=nobody']), []);
  const shown = await json<AgentlessPortWire>(['agentless', 'show', String(made.id)]);
  assert.equal(shown.user_data, api.user_data);
  assert.equal(shown.flavor, '0G');

  // the hyper port is bound to its hyperswitch's agent host
  assert.equal((await srv.admin.show<Port>('ports', 'port', pa.id))['binding:host_id'], api.hyperswitch_id);

  // hyperswitches: one per VM for vm-a and vm-c (device given), one for the tenant (vm-b)
  const hss = await json<HyperswitchWire[]>(['hyperswitch', 'list']);
  assert.equal(hss.length, 3);
  const hsA = hss.find((h) => h.id === api.hyperswitch_id)!;
  assert.equal(hsA.device_id, 'vm-a');
  assert.equal(hsA.flavor, '0G');
  const tenantHs = hss.find((h) => h.device_id === null)!;
  assert.equal(tenantHs.id, b!.hyperswitch_id);
  assert.deepEqual(
    (await json<HyperswitchWire[]>(['hyperswitch', 'list', '--filter', 'device_id=vm-c'])).map((h) => h.id),
    [c.hyperswitch_id],
  );
  assert.match(
    await ok(['hyperswitch', 'list']),
    /\| ID +\| Tenant +\| Device +\| Flavor +\| Data IP +\| VPN IPs +\| Status +\|/,
  );
  assert.equal((await json<HyperswitchWire>(['hyperswitch', 'show', hsA.id])).data_ip, hsA.data_ip);

  // a hyperswitch has no update: a clear usage error; an agentless port's only change is a move (--cloud)
  const hsSet = await hypernet(['hyperswitch', 'set', hsA.id, '--flavor', '1G'], env);
  assert.equal(hsSet.code, 2, hsSet.stderr);
  assert.match(hsSet.stderr, /^Error: hypernet hyperswitch set: .*cannot be .*: delete it and create it again/);
  const alSet = await hypernet(['agentless', 'set', String(made.id), '--flavor', '1G'], env);
  assert.equal(alSet.code, 2, alSet.stderr);
  assert.match(alSet.stderr, /unknown option '--flavor'/);
  const nothing = await hypernet(['agentless', 'set', String(made.id)], env);
  assert.equal(nothing.code, 2);
  assert.match(nothing.stderr, /^Error: nothing to set/);
  // this server's provider knows one cloud only: a move is refused with the API's error
  const nowhere = await hypernet(['agentless', 'set', String(made.id), '--cloud', 'nowhere'], env);
  assert.equal(nowhere.code, 1, nowhere.stderr);
  assert.match(nowhere.stderr, /^Error: /);
  // in use
  const busy = await hypernet(['hyperswitch', 'delete', hsA.id], env);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, new RegExp(`^Error: Hyperswitch ${hsA.id} serves agentless ports ${made.id}`));

  // status: the hyperswitches with their agents (real agents registering over the Unix socket)
  let status = '';
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    status = await ok(['status']);
    if ((status.match(/\| hs[tv]-[0-9a-f]{8} .*\| UP +\|/g) ?? []).length === 3) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.match(status, /Hyperswitches \(3\)/);
  assert.match(
    status,
    new RegExp(
      `\\| ${hsA.id} +\\| vm vm-a +\\| 0G +\\| ${hsA.data_ip.replace(/\./g, '\\.')} +\\| running +\\| UP +\\| 1 +\\|`,
    ),
    status,
  );
  assert.match(status, new RegExp(`\\| ${tenantHs.id} +\\| tenant ${tenantHs.tenant_id} +\\|`));
  const report = await json<{ hyperswitches: { id: string; agent: string; agentless_ports: number }[] }>(['status']);
  assert.deepEqual(
    report.hyperswitches.map((h) => [h.id, h.agent, h.agentless_ports]).sort(),
    hss.map((h) => [h.id, 'UP', 1]).sort(),
  );

  // delete two at once; each level's last port takes its hyperswitch along
  assert.equal((await ok(['agentless', 'delete', String(made.id), b!.id])).trim(), '');
  assert.deepEqual(
    (await json<AgentlessPortWire[]>(['agentless', 'list'])).map((x) => x.id),
    [c.id],
  );
  assert.deepEqual(
    (await json<HyperswitchWire[]>(['hyperswitch', 'list'])).map((h) => h.id),
    [c.hyperswitch_id],
  );
  assert.equal((await srv.admin.show<Port>('ports', 'port', pa.id))['binding:host_id'], '');
  const gone = await hypernet(['agentless', 'show', String(made.id)], env);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /Agentlessport eni-[0-9a-f]+ could not be found/);
  assert.equal(pc.device_id, 'vm-c');
});

test('hyperswitch create and delete by the CLI; usage errors', { skip, timeout: 120_000 }, async () => {
  const hs = await json<HyperswitchWire>(['hyperswitch', 'create', '--project', 'other-tenant', '--flavor', '10G']);
  assert.equal(hs.tenant_id, 'other-tenant');
  assert.equal(hs.flavor, '10G');
  assert.equal(hs.device_id, null);
  assert.deepEqual(
    (await json<HyperswitchWire[]>(['hyperswitch', 'list', '--filter', 'tenant_id=other-tenant'])).map((h) => h.id),
    [hs.id],
  );
  const dup = await hypernet(['hyperswitch', 'create', '--project', 'other-tenant'], env);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /A hyperswitch for tenant other-tenant exists/);
  assert.equal((await ok(['hyperswitch', 'delete', hs.id])).trim(), '');
  assert.deepEqual(await json(['hyperswitch', 'list', '--filter', 'tenant_id=other-tenant']), []);

  const bad = await hypernet(['agentless', 'create', '--port', 'x', '--flavor', '5G'], env);
  assert.equal(bad.code, 2);
  const badVpn = await hypernet(['agentless', 'create', '--port', 'x', '--vpn-type', 'ipsec'], env);
  assert.equal(badVpn.code, 2);
  assert.match(badVpn.stderr, /openvpn, wireguard/);
  const missing = await hypernet(['agentless', 'create', '--user-data-out', join(dir, 'never')], env);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing required option --port/);
  const counted = await hypernet(
    ['agentless', 'create', '--port', 'x', '--count', '2', '--user-data-out', join(dir, 'never')],
    env,
  );
  assert.equal(counted.code, 2);
  assert.match(counted.stderr, /--user-data-out writes one agentless port's user_data/);
  const noPort = await hypernet(['agentless', 'create', '--port', 'no-such-port'], env);
  assert.equal(noPort.code, 1);
  assert.match(noPort.stderr, /no-such-port/);
});
