/**
 * Pure compiles of agentless mode: the per-port OpenVPN server config, the client config, the
 * user_data document and its round trip to what a lab VM runs, the hook scripts' shell syntax.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { realExec } from '../../src/common/exec.js';
import { ADMISSION_HOOK, compileServerConfig, type VpnServerSpec } from '../../src/agent/vpn/server-config.js';
import { compileClientConfig } from '../../src/server/agentless/client-config.js';
import { allocateVpnPort } from '../../src/server/agentless/vpn-ports.js';
import { parseStatus } from '../../src/agent/vpn/management.js';
import { portLinkNames, redirectsTo } from '../../src/agent/vpn/port-links.js';
import { CLIENT_HOOK_NAME, compileClientHook } from '../../src/server/agentless/client-hook.js';
import { buildUserData, type UserDataSpec } from '../../src/server/agentless/userdata.js';
import { labBootFromUserData, labClientArgv } from '../../src/lab/cloud-init.js';

const PORT = '5d6e7f80-1111-4222-8333-944455556666';
const spec: VpnServerSpec = {
  portId: PORT,
  providerIp: '198.51.100.10',
  macAddress: 'fa:16:3e:00:00:01',
  listenIp: '198.51.100.1',
  listenPort: 1195,
  mtu: 1450,
  underlayMtu: 1500,
};
const files = {
  ca: '/d/ca.crt',
  cert: '/d/server.crt',
  key: '/d/server.key',
  crl: '/d/crl.pem',
  hook: '/d/admit.sh',
  management: '/d/p/mgmt.sock',
};
const pems = {
  caPem: '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n',
  certPem: 'CERT\n',
  keyPem: 'KEY\n',
};
const ud: UserDataSpec = {
  portId: PORT,
  macAddress: spec.macAddress,
  remoteIp: '198.51.100.1',
  remotePort: 1195,
  mtu: 1450,
  underlayMtu: 1500,
  serverName: 'hs-1',
  ...pems,
};

const lines = (s: string) => s.split('\n');

describe('agentless OpenVPN compile', () => {
  it('server: one port, its own TAP, bound to the vms IP, CRL and admission by CN and provider IP', () => {
    const l = lines(compileServerConfig(spec, files, 'abc'));
    for (const want of [
      'mode server',
      'tls-server',
      'proto udp4',
      'local 198.51.100.1',
      'port 1195',
      'dev vpn5d6e7f80-11',
      'dev-type tap',
      'tun-mtu 1450',
      'mssfix 1500 mtu',
      'data-ciphers AES-128-GCM:AES-256-GCM:CHACHA20-POLY1305',
      'fast-io',
      'txqueuelen 1000',
      'dh none',
      'crl-verify /d/crl.pem',
      'remote-cert-tls client',
      `verify-x509-name ${PORT} name`,
      'script-security 2',
      `tls-verify "/d/admit.sh ${PORT} 198.51.100.10"`,
      `client-connect "/d/admit.sh ${PORT} 198.51.100.10"`,
      'management /d/p/mgmt.sock unix',
      '# server-cert abc',
    ])
      assert.ok(l.includes(want), want);
    assert.ok(!l.includes('duplicate-cn') && !l.includes('client-to-client'));
  });

  it('refuses values that would break the config syntax', () => {
    assert.throws(() => compileServerConfig({ ...spec, providerIp: '1.2.3.4 x' }, files));
    assert.throws(() => compileServerConfig(spec, { ...files, hook: '/a b/admit.sh' }));
    assert.throws(() => compileClientConfig({ ...ud, macAddress: 'fa"', hookName: 'h.sh' }));
  });

  it('client: stock client options, the port MAC, inline certificates, hook as up/down', () => {
    const text = compileClientConfig({ ...ud, hookName: 'h.sh' });
    const l = lines(text);
    for (const want of [
      'client',
      'dev tap',
      'proto udp4',
      'remote 198.51.100.1 1195',
      'nobind',
      'remote-cert-tls server',
      'verify-x509-name hs-1 name',
      'lladdr fa:16:3e:00:00:01',
      'tun-mtu 1450',
      'mssfix 1500 mtu',
      'data-ciphers AES-128-GCM:AES-256-GCM:CHACHA20-POLY1305',
      'fast-io',
      'txqueuelen 1000',
      'tls-timeout 1',
      'server-poll-timeout 4',
      'connect-retry 1 4',
      'up ./h.sh',
      'down ./h.sh',
    ])
      assert.ok(l.includes(want), want);
    assert.ok(!l.some((x) => /^fragment\b/.test(x)), 'no OpenVPN fragmentation: mssfix keeps TCP inside the underlay');
    const hook = compileClientHook('198.51.100.1');
    for (const want of ["'reboot 0;'", "'initial-interval 1;'", "'backoff-cutoff 2;'", 'udhcpc -b -R -t 5 -T 1 -A 2'])
      assert.ok(hook.includes(want), `hook DHCP client: ${want}`);
    assert.match(
      text,
      /<ca>\n-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n<\/ca>\n<cert>\nCERT\n<\/cert>\n<key>\nKEY\n<\/key>\n$/,
    );
  });

  it("names a port's links and reads its tc redirect (tc -json filter show)", () => {
    assert.deepEqual(portLinkNames('5d6e7f80-1122-4000-8000-000000000001'), {
      vpnTap: 'vpn5d6e7f80-11',
      shim: 'vps5d6e7f80-11',
      port: 'tap5d6e7f80-11',
    });
    const mirred = (to: string, direction = 'egress') => ({
      protocol: 'all',
      pref: 1,
      kind: 'u32',
      options: {
        fh: '800::800',
        match: { value: '0', mask: '0' },
        actions: [
          {
            order: 1,
            kind: 'mirred',
            mirred_action: 'redirect',
            direction,
            to_dev: to,
            control_action: { type: 'stolen' },
          },
        ],
      },
    });
    const head = [
      { protocol: 'all', pref: 1, kind: 'u32' },
      { protocol: 'all', pref: 1, kind: 'u32', options: { fh: '800:', ht_divisor: 1 } },
    ];
    assert.equal(redirectsTo(JSON.stringify([...head, mirred('vpsX')]), 'vpsX'), true);
    assert.equal(redirectsTo(JSON.stringify([...head, mirred('other')]), 'vpsX'), false);
    assert.equal(redirectsTo(JSON.stringify([...head, mirred('vpsX', 'ingress')]), 'vpsX'), false);
    assert.equal(
      redirectsTo(JSON.stringify([...head, mirred('vpsX'), mirred('vpsX')]), 'vpsX'),
      false,
      'a duplicate filter is rewritten',
    );
    assert.equal(redirectsTo('', 'vpsX'), false);
    assert.equal(redirectsTo('[]', 'vpsX'), false);
  });

  it('allocates the lowest free VPN port', () => {
    assert.equal(allocateVpnPort([], 1194, 1196), 1194);
    assert.equal(allocateVpnPort([1194, 1195], 1194, 1196), 1196);
    assert.throws(() => allocateVpnPort([1194], 1194, 1194));
  });

  it('parses the management status by its header', () => {
    const got = parseStatus([
      'TITLE,OpenVPN 2.6',
      'HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,Peer ID,Data Channel Cipher',
      `CLIENT_LIST,${PORT},198.51.100.10:40000,,,1,2,x,0,UNDEF,7,0,AES-256-GCM`,
      'END',
    ]);
    assert.deepEqual(got, [{ commonName: PORT, realAddress: '198.51.100.10:40000', clientId: '7' }]);
  });

  it('hook scripts are valid POSIX sh', async () => {
    for (const script of [ADMISSION_HOOK, compileClientHook('198.51.100.1')]) {
      const r = await realExec('sh', ['-n'], { input: script, allowFail: true });
      assert.equal(r.code, 0, r.stderr);
    }
    assert.throws(() => compileClientHook('1.2.3.4; reboot'));
  });
});

describe('agentless user_data', () => {
  it('is a #cloud-config that installs openvpn, writes the client and starts the stock unit', () => {
    const text = buildUserData(ud);
    assert.ok(text.startsWith('#cloud-config\n'));
    const doc = parse(text) as {
      packages: string[];
      write_files: { path: string; permissions: string; content: string }[];
      runcmd: string[][];
    };
    assert.deepEqual(doc.packages, ['openvpn']);
    const byPath = Object.fromEntries(doc.write_files.map((f) => [f.path, f]));
    assert.equal(byPath['/etc/openvpn/client/hypernet.conf']?.permissions, '0600');
    assert.equal(
      byPath['/etc/openvpn/client/hypernet.conf']?.content,
      compileClientConfig({ ...ud, hookName: CLIENT_HOOK_NAME }),
    );
    assert.equal(byPath[`/etc/openvpn/client/${CLIENT_HOOK_NAME}`]?.permissions, '0755');
    assert.deepEqual(doc.runcmd, [['systemctl', 'enable', '--now', 'openvpn-client@hypernet']]);
  });

  it('gives the lab the very same files and the unit command line', () => {
    const boot = labBootFromUserData(buildUserData(ud));
    assert.equal(boot.configName, 'hypernet.conf');
    assert.deepEqual(
      boot.files.map((f) => [f.name, f.mode]),
      [
        ['hypernet.conf', 0o600],
        [CLIENT_HOOK_NAME, 0o755],
      ],
    );
    assert.equal(boot.files[1]?.content, compileClientHook('198.51.100.1'));
    const argv = labClientArgv('/lab/vm1', boot, '/lab/vm1/pid', '/lab/vm1/log');
    assert.deepEqual(argv.slice(0, 6), ['openvpn', '--nobind', '--cd', '/lab/vm1', '--config', 'hypernet.conf']);
    assert.throws(() => labBootFromUserData('#!/bin/sh\necho hi\n'));
    assert.throws(() => labBootFromUserData('#cloud-config\nruncmd: []\n'));
  });
});
