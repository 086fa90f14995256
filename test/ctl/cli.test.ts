/**
 * End to end: the real `hypernet` executable against a real server over HTTP. Create, list, show,
 * set and delete for every resource, `-o json|yaml`, exit codes (1 API error with the NeutronError
 * message on one line, 2 usage, 3 unreachable), connection from flags / env / config file / token
 * auth, bulk delete, and `hypernet status`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ApiError } from '../../src/client/api.js';
import { cliRunner, hypernet, registerAgent, startServer, type TestServer } from './server.js';

let srv: TestServer;
let env: Record<string, string>;

before(async () => {
  // agent_down_time leaves room for a slow CLI start on a loaded machine (an agent must still be UP
  // when the command that lists it has started), and the status test waits past it for one to go DOWN.
  srv = await startServer({ config: { agentDownTime: 8 } });
  env = { HYPERNET_URL: srv.url };
});
after(async () => srv?.close());

const { ok, json } = cliRunner(() => env);

test('network: create, list, show by name and id, set, delete', async () => {
  const net = await json(['network', 'create', 'blue', '--description', 'first', '--mtu', '1400']);
  assert.equal(net.name, 'blue');
  assert.equal(net.mtu, 1400);
  assert.equal(net.description, 'first');
  const table = await ok(['network', 'list']);
  assert.match(table, /\| ID +\| Name +\| VNI +\| Subnets +\| MTU +\| Status +\|/);
  assert.match(table, new RegExp(`\\| ${net.id} \\| blue +\\|`));
  const list = await json<Record<string, unknown>[]>(['network', 'list']);
  assert.ok(list.some((n) => n.id === net.id));
  assert.equal((await json(['network', 'show', 'blue'])).id, net.id);
  assert.match(await ok(['network', 'show', String(net.id)]), /\| name +\| blue +\|/);
  const yaml = parseYaml(await ok(['network', 'show', 'blue', '-o', 'yaml'])) as Record<string, unknown>;
  assert.equal(yaml.id, net.id);
  const changed = await json(['network', 'set', 'blue', '--name', 'navy', '--disable']);
  assert.equal(changed.name, 'navy');
  assert.equal(changed.admin_state_up, false);
  assert.equal((await ok(['network', 'delete', 'navy'])).trim(), '');
  await assert.rejects(srv.admin.show('networks', 'network', String(net.id)), (e: ApiError) => e.status === 404);
});

test('subnet and port: create with references by name, filters, set, delete', async () => {
  const net = await json(['network', 'create', 'red']);
  const sub = await json([
    'subnet',
    'create',
    'red-v4',
    '--network',
    'red',
    '--subnet-range',
    '10.0.1.0/24',
    '--dns-nameserver',
    '192.0.2.53',
    '--allocation-pool',
    'start=10.0.1.10,end=10.0.1.100',
  ]);
  assert.equal(sub.network_id, net.id);
  assert.equal(sub.cidr, '10.0.1.0/24');
  assert.deepEqual(sub.dns_nameservers, ['192.0.2.53']);
  assert.deepEqual(sub.allocation_pools, [{ start: '10.0.1.10', end: '10.0.1.100' }]);
  const subs = await json<Record<string, unknown>[]>(['subnet', 'list', '--network', 'red']);
  assert.deepEqual(
    subs.map((s) => s.id),
    [sub.id],
  );
  assert.equal((await json(['subnet', 'set', 'red-v4', '--no-dhcp', '--name', 'red-sub'])).enable_dhcp, false);

  const port = await json([
    'port',
    'create',
    'web',
    '--network',
    'red',
    '--fixed-ip',
    `subnet_id=${sub.id},ip_address=10.0.1.42`,
  ]);
  assert.equal(port.network_id, net.id);
  assert.deepEqual(
    (port.fixed_ips as { ip_address: string }[]).map((f) => f.ip_address),
    ['10.0.1.42'],
  );
  assert.match(await ok(['port', 'list', '--network', String(net.id)]), /\| web +\| .* \| 10\.0\.1\.42 +\|/);
  const active = await json(['port', 'set', 'web', '--status', 'ACTIVE', '--host', 'hs-a']);
  assert.equal(active.status, 'ACTIVE');
  assert.equal(active['binding:host_id'], 'hs-a');
  assert.equal((await json<unknown[]>(['port', 'list', '--filter', 'status=ACTIVE'])).length, 1);

  // bulk: create 3, delete 3 (plus the first) in one command
  const many = await json<Record<string, unknown>[]>(['port', 'create', 'db', '--network', 'red', '--count', '3']);
  assert.deepEqual(many.map((p) => p.name).sort(), ['db-1', 'db-2', 'db-3']);
  await ok(['port', 'delete', 'web', ...many.map((p) => String(p.id))]);
  assert.equal((await srv.admin.list('ports', { network_id: String(net.id) })).length, 0);
  await ok(['subnet', 'delete', 'red-sub']);
  await ok(['network', 'delete', 'red']);
});

test('security group and rule: create, list, show, set, delete', async () => {
  const sg = await json(['security-group', 'create', 'web-sg', '--description', 'web servers']);
  const rule = await json([
    'security-group-rule',
    'create',
    '--security-group',
    'web-sg',
    '--direction',
    'ingress',
    '--ethertype',
    'IPv4',
    '--protocol',
    'tcp',
    '--port-range-min',
    '22',
    '--port-range-max',
    '22',
    '--remote-ip',
    '0.0.0.0/0',
  ]);
  assert.equal(rule.security_group_id, sg.id);
  assert.equal(rule.port_range_min, 22);
  const rules = await json<Record<string, unknown>[]>(['security-group-rule', 'list', '--security-group', 'web-sg']);
  assert.ok(rules.some((r) => r.id === rule.id));
  assert.match(await ok(['security-group-rule', 'show', String(rule.id)]), /\| protocol +\| tcp +\|/);
  assert.equal((await json(['security-group', 'set', 'web-sg', '--name', 'www-sg'])).name, 'www-sg');
  assert.match(await ok(['security-group', 'list']), /\| www-sg +\| web servers +\|/);
  await ok(['security-group-rule', 'delete', String(rule.id)]);
  await ok(['security-group', 'delete', 'www-sg']);
  const after = await json<Record<string, unknown>[]>(['security-group', 'list']);
  assert.ok(!after.some((g) => g.id === sg.id));
});

test('agents: list, show by host, delete', async () => {
  const a = await registerAgent(srv.admin, 'hs-agents-test', 'cloud-z', '203.0.113.9');
  assert.match(await ok(['agents', 'list']), /\| hs-agents-test +\| cloud-z +\| 203\.0\.113\.9 +\| UP +\|/);
  assert.equal((await json(['agents', 'show', 'hs-agents-test'])).id, a.id);
  await ok(['agents', 'delete', 'hs-agents-test']);
  assert.ok(!(await json<Record<string, unknown>[]>(['agents', 'list'])).some((x) => x.id === a.id));
});

test('exit 1: API error, the NeutronError message on one line', async () => {
  let apiMessage = '';
  await srv.admin.show('networks', 'network', 'no-such-network').catch((e: ApiError) => (apiMessage = e.message));
  assert.ok(apiMessage, 'the server answers a NeutronError message');
  const r = await hypernet(['network', 'show', 'no-such-network'], env);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `Error: ${apiMessage}\n`);
  const bad = await hypernet(
    ['subnet', 'create', 'x', '--network', 'no-such-network', '--subnet-range', '10.9.0.0/24'],
    env,
  );
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  const net = await json(['network', 'create', 'cidr-test']);
  const cidr = await hypernet(
    ['subnet', 'create', 'x', '--network', String(net.id), '--subnet-range', 'not-a-cidr'],
    env,
  );
  assert.equal(cidr.code, 1);
  assert.match(cidr.stderr, /^Error: .+\n$/);
  // bulk delete with one bad id: the others are deleted, exit 1
  const n2 = await json(['network', 'create', 'cidr-test-2']);
  const bulk = await hypernet(['network', 'delete', String(net.id), 'no-such-network', String(n2.id)], env);
  assert.equal(bulk.code, 1);
  assert.match(bulk.stderr, /no-such-network/);
  assert.equal((await srv.admin.list('networks')).filter((n) => n.id === net.id || n.id === n2.id).length, 0);
});

test('exit 2: usage errors', async () => {
  for (const args of [
    ['network', 'list', '--bogus'],
    ['network', 'list', '-o', 'xml'],
    ['subnet', 'create', 'x', '--network', 'n'], // --subnet-range missing
    ['network', 'set', 'x'], // nothing to set
    ['network', 'create', '--mtu', 'big'],
    ['network', 'show'],
    ['network'],
    ['completion', 'fish'],
    ['network', 'list', '--config', '/nonexistent/config.yaml'],
  ]) {
    const r = await hypernet(args, env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(r.stderr.trim(), `${args.join(' ')} says why`);
  }
  assert.equal((await hypernet(['network', '--help'], env)).code, 0);
});

test('exit 3: cannot connect', async () => {
  const r = await hypernet(['network', 'list', '--url', 'http://127.0.0.1:9']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /^Error: cannot reach http:\/\/127\.0\.0\.1:9: .+\n$/);
  const u = await hypernet(['status', '--url', 'unix:/nonexistent/hypernet.sock']);
  assert.equal(u.code, 3);
});

test('connection from the config file (default path and --config)', async () => {
  const home = mkdtempSync(join(tmpdir(), 'hn-ctl-cfg-'));
  mkdirSync(join(home, '.config', 'hypernet'), { recursive: true });
  writeFileSync(join(home, '.config', 'hypernet', 'config.yaml'), `url: ${srv.url}\n`);
  assert.equal((await hypernet(['network', 'list'], { HOME: home })).code, 0);
  const cfg = join(home, 'other.yaml');
  writeFileSync(cfg, `url: ${srv.url}\n`);
  assert.equal((await hypernet(['network', 'list', '--config', cfg])).code, 0);
});

test('token auth: no token is an API error; flag, env and config file tokens work', async () => {
  const tsrv = await startServer({
    tokens: {
      'admin-secret': { project_id: 'admin', roles: ['admin'] },
      'user-secret': { project_id: 'p1', roles: ['member'] },
    },
  });
  try {
    const no = await hypernet(['network', 'list', '--url', tsrv.url]);
    assert.equal(no.code, 1);
    assert.equal(no.stderr.trim().split('\n').length, 1);
    assert.equal((await hypernet(['network', 'create', 'tok', '--url', tsrv.url, '--token', 'user-secret'])).code, 0);
    assert.equal(
      (await hypernet(['network', 'show', 'tok'], { HYPERNET_URL: tsrv.url, HYPERNET_TOKEN: 'user-secret' })).code,
      0,
    );
    const dir = mkdtempSync(join(tmpdir(), 'hn-ctl-tok-'));
    writeFileSync(join(dir, 'c.yaml'), `url: ${tsrv.url}\ntoken: admin-secret\n`);
    const r = await hypernet(['network', 'list', '--config', join(dir, 'c.yaml'), '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as unknown[]).length, 1);
  } finally {
    await tsrv.close();
  }
});

test('status: clouds, agents up and down, networks with port counts, problems', async () => {
  await registerAgent(srv.admin, 'hs-east', 'cloud-east', '192.0.2.10');
  const silent = await registerAgent(srv.admin, 'hs-west', 'cloud-west', '198.51.100.10');
  const net = await json(['network', 'create', 'stretch']);
  await ok(['subnet', 'create', 'stretch-v4', '--network', 'stretch', '--subnet-range', '10.0.7.0/24']);
  const p1 = await json(['port', 'create', 'east-vm', '--network', 'stretch', '--host', 'hs-east']);
  await json(['port', 'create', 'west-vm', '--network', 'stretch', '--host', 'hs-west']);
  await ok(['port', 'set', String(p1.id), '--status', 'ACTIVE']);
  // hs-west goes silent: hs-east keeps heartbeating past agent_down_time (8 s)
  for (let i = 0; i < 18; i++) {
    await new Promise((r) => setTimeout(r, 500));
    await srv.admin.update(
      'agents',
      'agent',
      (await srv.admin.list<{ id: string; host: string }>('agents')).find((a) => a.host === 'hs-east')!.id,
      { heartbeat: true },
    );
  }
  const text = await ok(['status']);
  assert.match(text, /Clouds \(\d+\)/);
  assert.match(text, /\| cloud-east +\| 1\/1 +\| 1\/1 +\|/);
  assert.match(text, /\| cloud-west +\| 0\/1 +\| 0\/1 +\|/);
  assert.match(text, /\| hs-west +\| cloud-west +\| 198\.51\.100\.10 +\| DOWN +\|/);
  assert.match(
    text,
    new RegExp(
      `\\| stretch +\\| ${net.id} \\| \\d+ +\\| 10\\.0\\.7\\.0/24 \\| 2 +\\| 1 +\\| 1 +\\| cloud-east, cloud-west \\|`,
    ),
  );
  assert.match(text, /- port west-vm \(.+\) on network stretch is DOWN, on host hs-west \(cloud-west\)/);
  assert.match(text, /- agent hs-west \(cloud-west\) is down: silent for \d+s/);
  const report = JSON.parse(await ok(['status', '-o', 'json'])) as { problems: { kind: string; id: string }[] };
  assert.ok(report.problems.some((p) => p.kind === 'agent-silent' && p.id === silent.id));
});
