/** Unit tests of the CLI's pure parts: config resolution, flags → body, output formats, progress. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { resolveConnection, DEFAULT_URL } from '../../src/ctl/config.js';
import { UsageError, exitCodeFor, errorLine } from '../../src/ctl/errors.js';
import { ApiError } from '../../src/client/api.js';
import { buildBody, fieldValue } from '../../src/ctl/fields.js';
import { formatList, formatObject, parseFormat } from '../../src/ctl/format.js';
import { resourceByCommand, RESOURCES } from '../../src/ctl/resources.js';
import { progressLine, runBulk } from '../../src/ctl/progress.js';
import { cellText, ruleSummary } from '../../src/ctl/cells.js';
import { writeSecretFile } from '../../src/ctl/secret-file.js';

test('connection: flags beat environment beat config file beat default', () => {
  const home = mkdtempSync(join(tmpdir(), 'hn-ctl-'));
  const env = { HOME: home } as NodeJS.ProcessEnv;
  assert.deepEqual(resolveConnection({}, env), { url: DEFAULT_URL });
  mkdirSync(join(home, '.config', 'hypernet'), { recursive: true });
  writeFileSync(join(home, '.config', 'hypernet', 'config.yaml'), 'url: http://10.9.9.9:1\ntoken: filetok\n');
  assert.deepEqual(resolveConnection({}, env), { url: 'http://10.9.9.9:1', token: 'filetok' });
  const env2 = { ...env, HYPERNET_URL: 'http://envhost:2', HYPERNET_TOKEN: 'envtok' };
  assert.deepEqual(resolveConnection({}, env2), { url: 'http://envhost:2', token: 'envtok' });
  assert.deepEqual(resolveConnection({ url: 'unix:/run/x.sock', token: 'flag' }, env2), {
    url: 'unix:/run/x.sock',
    token: 'flag',
  });
  const other = join(home, 'other.yaml');
  writeFileSync(other, 'url: http://other:3\n');
  assert.deepEqual(resolveConnection({ config: other }, env), { url: 'http://other:3' });
  assert.throws(() => resolveConnection({ config: join(home, 'missing.yaml') }, env), UsageError);
  assert.throws(() => resolveConnection({ url: 'ftp://x' }, env), UsageError);
  // Several servers, comma-separated: each one is checked.
  const two = 'http://192.0.2.1:9696,http://192.0.2.2:9696';
  assert.deepEqual(resolveConnection({ url: two, token: 't' }, env), { url: two, token: 't' });
  assert.throws(() => resolveConnection({ url: 'http://192.0.2.1:9696,ftp://x' }, env), /bad server URL "ftp:\/\/x"/);
  assert.throws(() => resolveConnection({ url: ',' }, env), UsageError);
  writeFileSync(other, '- a list\n');
  assert.throws(() => resolveConnection({ config: other }, env), /expected a mapping/);
});

test('exit codes and one-line errors', () => {
  assert.equal(exitCodeFor(new UsageError('x')), 2);
  assert.equal(exitCodeFor(new ApiError(404, 'NetworkNotFound', 'Network x could not be found.')), 1);
  assert.equal(exitCodeFor(new ApiError(0, 'ConnectionFailed', 'cannot reach')), 3);
  assert.equal(errorLine(new Error('two\n  lines')), 'Error: two lines');
});

test('flags become a request body: refs resolved, bool pairs, lists, kv lists, null words', async () => {
  const subnet = resourceByCommand('subnet');
  const seen: string[] = [];
  const resolve = async (kind: string, v: string) => {
    seen.push(`${kind}:${v}`);
    return `id-of-${v}`;
  };
  const body = await buildBody(
    subnet.fields,
    'create',
    {
      network: 'net1',
      subnetRange: '10.0.1.0/24',
      gateway: 'none',
      dhcp: false,
      dnsNameserver: ['1.1.1.1', '8.8.8.8'],
      allocationPool: ['start=10.0.1.10,end=10.0.1.20'],
      ipVersion: '4',
    },
    resolve,
  );
  assert.deepEqual(body, {
    network_id: 'id-of-net1',
    cidr: '10.0.1.0/24',
    ip_version: 4,
    gateway_ip: null,
    enable_dhcp: false,
    dns_nameservers: ['1.1.1.1', '8.8.8.8'],
    allocation_pools: [{ start: '10.0.1.10', end: '10.0.1.20' }],
  });
  assert.deepEqual(seen, ['network:net1']);
  await assert.rejects(
    buildBody(subnet.fields, 'create', { network: 'n' }, resolve),
    /missing required option --subnet-range/,
  );
  // set: create-only flags are not taken, rename is
  assert.deepEqual(await buildBody(subnet.fields, 'set', { name: 'x', network: 'n' }, resolve), { name: 'x' });
  const net = resourceByCommand('network');
  assert.deepEqual(await buildBody(net.fields, 'set', { disable: true, share: true }, resolve), {
    admin_state_up: false,
    shared: true,
  });
  await assert.rejects(buildBody(net.fields, 'set', { enable: true, disable: true }, resolve), /exclude each other/);
  await assert.rejects(buildBody(net.fields, 'set', { mtu: '15x' }, resolve), /expected an integer/);
  const port = resourceByCommand('port');
  assert.deepEqual(await buildBody(port.fields, 'set', { securityGroup: false }, resolve), { security_groups: [] });
  assert.throws(
    () => fieldValue(port.fields.find((f) => f.flag === 'status')!, { status: 'UP' }),
    /expected one of ACTIVE/,
  );
});

test('resource table: every entry is consistent', () => {
  for (const r of RESOURCES) {
    assert.ok(r.columns.length > 0 && r.columns[0].attr === 'id', r.command);
    if (r.nameArg) assert.ok(r.nameAttr, r.command);
    const flags = r.fields.map((f) => f.flag);
    assert.equal(new Set(flags).size, flags.length, `${r.command}: duplicate flag`);
    for (const f of r.fields)
      if (f.ref)
        assert.ok(
          RESOURCES.some((x) => x.command === f.ref),
          `${r.command} --${f.flag} refers to ${f.ref}`,
        );
  }
});

test('output: table, json and yaml of a list and of one object', () => {
  const spec = resourceByCommand('port');
  const objs = [
    {
      id: 'p1',
      name: 'web',
      network_id: 'n1',
      mac_address: 'fa:16:3e:00:00:01',
      fixed_ips: [{ subnet_id: 's', ip_address: '10.0.1.5' }],
      'binding:host_id': 'hs1',
      status: 'ACTIVE',
    },
  ];
  const table = formatList(objs, spec.columns, 'table');
  assert.match(table, /\| ID +\| Name +\| Network +\| MAC Address +\| Fixed IPs +\| Host +\| Status +\|/);
  assert.match(table, /\| p1 +\| web +\| n1 +\| fa:16:3e:00:00:01 \| 10\.0\.1\.5 +\| hs1 +\| ACTIVE +\|/);
  assert.deepEqual(JSON.parse(formatList(objs, spec.columns, 'json')), objs);
  assert.deepEqual(parseYaml(formatList(objs, spec.columns, 'yaml')), objs);
  const one = formatObject(objs[0], 'table');
  assert.match(one, /\| Field +\| Value +\|/);
  assert.match(one, /\| fixed_ips +\| 10\.0\.1\.5 \(s\) +\|/);
  assert.deepEqual(JSON.parse(formatObject(objs[0], 'json')), objs[0]);
  assert.throws(() => parseFormat('xml'), UsageError);
  assert.equal(cellText(null), '');
  assert.equal(cellText([{ start: 'a', end: 'b' }]), 'a-b');
  assert.equal(
    ruleSummary({
      direction: 'ingress',
      ethertype: 'IPv4',
      protocol: 'tcp',
      port_range_min: 22,
      port_range_max: 22,
      remote_ip_prefix: '0.0.0.0/0',
    }),
    'ingress IPv4 tcp 22 from 0.0.0.0/0',
  );
});

test('bulk: progress bar on a terminal, failures reported and collected, none hidden', async () => {
  assert.equal(progressLine(1, 4, 'x', 8), '[##      ] 1/4 x');
  const written: string[] = [];
  const tty = { isTTY: true, columns: 60, write: (s: string) => written.push(s) };
  const res = await runBulk(
    ['a', 'bad', 'c'],
    'deleting',
    async (x) => {
      if (x === 'bad') throw new Error('no such thing');
      return x.toUpperCase();
    },
    tty,
    errorLine,
    2,
  );
  assert.deepEqual(res.ok.sort(), ['A', 'C']);
  assert.deepEqual(
    res.failed.map((f) => f.item),
    ['bad'],
  );
  const all = written.join('');
  assert.match(all, /\[#{20}\] 3\/3/);
  assert.match(all, /Error: no such thing \(bad\)\n/);
  const plain: string[] = [];
  await runBulk(['a', 'b'], 'x', async () => 1, { isTTY: false, write: (s: string) => plain.push(s) }, errorLine);
  assert.deepEqual(plain, [], 'no progress bar when not on a terminal');
});

test('secret file: mode 0600 also over an existing wider file, exact content', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hn-secret-'));
  try {
    const f = join(dir, 'ud');
    writeFileSync(f, 'a much longer old content that must not survive', { mode: 0o644 });
    assert.equal(writeSecretFile(f, 'key'), f);
    assert.equal(readFileSync(f, 'utf8'), 'key');
    assert.equal(statSync(f).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
