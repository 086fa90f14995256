/** The server's config file: defaults, neutron.conf names, and one clear error per bad key. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, loadConfig } from '../../src/server/config.js';

const dir = mkdtempSync(join(tmpdir(), 'hn-config-'));
const file = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

test('no file: the defaults', () => {
  assert.deepEqual(loadConfig(), defaultConfig());
});

test('a YAML file sets what it names', () => {
  const cfg = loadConfig(
    file(
      'ok.yaml',
      'global_physnet_mtu: 9000\nagent_down_time: 30\nbase_mac: FA:16:3E:AA:00:00\nvni_ranges: "5000:6000"\nwatch_heartbeat_interval: 2\n',
    ),
  );
  assert.equal(cfg.globalPhysnetMtu, 9000);
  assert.equal(cfg.agentDownTime, 30);
  assert.equal(cfg.baseMac, 'fa:16:3e:aa:00:00');
  assert.deepEqual(cfg.vniRange, { min: 5000, max: 6000 });
  assert.equal(cfg.watchHeartbeatMs, 2000);
  assert.equal(cfg.changeRetention, defaultConfig().changeRetention);
  assert.equal(cfg.agentless, undefined);
});

test('bad values and unknown keys are refused with the key named', () => {
  const cases: [string, RegExp][] = [
    ['agent_down_time: soon\n', /agent_down_time/],
    ['global_physnet_mtu: 100\n', /global_physnet_mtu/],
    ['base_mac: not-a-mac\n', /base_mac/],
    ['vni_ranges: "9:1"\n', /vni_ranges/],
    ['vni_range: "1:9"\n', /vni_range/],
  ];
  for (const [i, [text, re]] of cases.entries()) {
    assert.throws(() => loadConfig(file(`bad${i}.yaml`, text)), re, text);
  }
});

test('quota defaults and request limits: Neutron values, set by neutron.conf names', () => {
  const d = defaultConfig();
  assert.deepEqual(d.quotaDefaults, {
    network: 100,
    subnet: 100,
    port: 500,
    security_group: 10,
    security_group_rule: 100,
    router: 10,
    floatingip: 50,
  });
  assert.equal(d.maxRequestBodySize, 114_688);
  assert.equal(d.maxAllowedAddressPairs, 10);
  assert.equal(d.maxFixedIpsPerPort, 5);
  const cfg = loadConfig(
    file(
      'limits.yaml',
      'quota_network: -1\nquota_port: 20\nmax_request_body_size: 4096\nmax_allowed_address_pair: 3\n' +
        'max_fixed_ips_per_port: 2\nmax_bulk_items: 7\nquota_router: 3\nquota_floatingip: -1\n',
    ),
  );
  assert.deepEqual(cfg.quotaDefaults, { ...d.quotaDefaults, network: -1, port: 20, router: 3, floatingip: -1 });
  assert.equal(cfg.maxRequestBodySize, 4096);
  assert.equal(cfg.maxAllowedAddressPairs, 3);
  assert.equal(cfg.maxFixedIpsPerPort, 2);
  assert.equal(cfg.maxBulkItems, 7);
  assert.throws(() => loadConfig(file('badq.yaml', 'quota_subnet: -2\n')), /quota_subnet/);
  assert.throws(() => loadConfig(file('badb.yaml', 'max_bulk_items: 0\n')), /max_bulk_items/);
});

test('keystone_authtoken: Neutron option names, defaults filled in, bad URLs and unknown keys refused', () => {
  const section = [
    'keystone_authtoken:',
    '  auth_url: http://127.0.0.1:5000/v3',
    '  username: hypernet',
    '  password: s3cret',
    '  project_name: service',
    '',
  ].join('\n');
  const k = loadConfig(file('ks.yaml', section)).keystoneAuthtoken;
  assert.deepEqual(k, {
    wwwAuthenticateUri: 'http://127.0.0.1:5000/v3',
    authUrl: 'http://127.0.0.1:5000/v3',
    username: 'hypernet',
    password: 's3cret',
    projectName: 'service',
    userDomainName: 'Default',
    projectDomainName: 'Default',
    tokenCacheTime: 60,
    negativeCacheTime: 10,
    httpConnectTimeout: 5,
  });
  assert.throws(
    () => loadConfig(file('ks-bad.yaml', section.replace('http://127.0.0.1', 'file:///etc'))),
    /keystone_authtoken\.auth_url/,
  );
  assert.throws(() => loadConfig(file('ks-typo.yaml', `${section}  token_cache: 5\n`)), /keystone_authtoken/);
});

test('metadata_proxy_shared_secret: off by default, set by its Neutron name, too short refused', () => {
  assert.equal(defaultConfig().metadataSecret, undefined);
  const secret = 'a-long-enough-metadata-secret';
  assert.equal(loadConfig(file('md.yaml', `metadata_proxy_shared_secret: ${secret}\n`)).metadataSecret, secret);
  assert.throws(() => loadConfig(file('md-short.yaml', 'metadata_proxy_shared_secret: short\n')), /metadata_proxy/);
});
