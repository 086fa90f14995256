/**
 * HyperVM containers on the tc-BPF firewall (`agent --firewall tc-bpf`), as root, with real LXC in the
 * two-cloud world of testkit/hypervm-world.ts: the container's node-side veth (named as the port's
 * tap) carries the two programs and no nftables rule, the container is reachable once they are on,
 * a security group allows and denies traffic to it on that path, and a spoofed source is dropped.
 * Namespaces start with `hnhb-<pid>-`; containers, processes and namespaces are removed, also on failure.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bpfBuilt } from '../../../src/agent/firewall/bpf/driver.js';
import { tapName } from '../../../src/model/kernel-names.js';
import type { HyperVm, Port, SecurityGroup } from '../../../src/model/types.js';
import { hyperVmWorldReady, worldFor } from '../../../testkit/hypervm-world.js';
import { skipUnless } from '../../../testkit/preconditions.js';
import { eventually, msUntil } from '../../../testkit/wait.js';

const w = worldFor(`hnhb-${process.pid}-`, 'hypervm-lxc-bpf', ['--firewall', 'tc-bpf']);
const ready = hyperVmWorldReady() || skipUnless(bpfBuilt(), 'needs the BPF object (npm run build with clang)');

describe('HyperVMs on the tc-BPF firewall (root, real containers)', { skip: ready }, () => {
  let hv: HyperVm;
  let port: Port;
  const ip = () => port.fixed_ips[0].ip_address;
  const inContainer = (cmd: string[]) => w.inContainer(hv.id, cmd);
  const ping = async () => (await w.inNs(w.ns.wb, ['ping', '-c', '1', '-W', '1', ip()])).code === 0;
  /** An HTTP GET from the VM on node B to the container's busybox httpd on `tcpPort` (curl: 28 on timeout). */
  const fetchMotd = (tcpPort: number) =>
    w.inNs(w.ns.wb, ['curl', '-sS', '--connect-timeout', '3', `http://${ip()}:${tcpPort}/motd`]);

  before(() => w.up());
  after(() => w.down());

  test('the container answers, with the programs on its node-side veth and no nftables rule', async () => {
    hv = await w.launch();
    port = await w.api.show<Port>('ports', 'port', hv.port_id);
    assert.ok((await msUntil(ping, 60_000)) >= 0, 'the VM on node B pings the container');
    const tap = tapName(port.id);
    const link = await w.inNs(w.ns.a, ['ip', '-d', 'link', 'show', tap]);
    assert.match(link.stdout, /veth/, 'the port’s device is the container’s veth');
    for (const [hook, prog] of [
      ['ingress', 'hn_from_port'],
      ['egress', 'hn_to_port'],
    ] as const) {
      const tc = await w.inNs(w.ns.a, ['tc', 'filter', 'show', 'dev', tap, hook]);
      assert.match(tc.stdout, new RegExp(`${prog}.*direct-action`), `${prog} on ${tap} ${hook}`);
    }
    const nft = await w.inNs(w.ns.a, ['nft', 'list', 'ruleset']);
    assert.doesNotMatch(nft.stdout, new RegExp(tap), 'no nftables rule names the tap');
    const brnf = await w.inNs(w.ns.a, ['sysctl', '-n', 'net.bridge.bridge-nf-call-iptables'], 5_000);
    // Without br_netfilter loaded the key is absent; with it, bridged frames must not take the inet hooks.
    if (brnf.code === 0) assert.equal(brnf.stdout.trim(), '0', 'bridged frames skip the inet hooks');
  });

  test('a security group allows and denies traffic to the container on the BPF path', async () => {
    // busybox httpd serves the image's /etc on two ports; the group lets only 8080 in, from the VM.
    for (const p of ['8080', '8081'])
      assert.equal((await inContainer(['busybox', 'httpd', '-p', p, '-h', '/etc'])).code, 0, `httpd on ${p}`);
    const sg = await w.api.create<SecurityGroup>('security-groups', 'security_group', { name: 'web-only' });
    await w.api.create('security-group-rules', 'security_group_rule', {
      security_group_id: sg.id,
      direction: 'ingress',
      ethertype: 'IPv4',
      protocol: 'tcp',
      port_range_min: 8080,
      port_range_max: 8080,
      remote_ip_prefix: `${w.vmIp}/32`,
    });
    await w.api.update('ports', 'port', port.id, { security_groups: [sg.id] });
    assert.ok(await eventually(async () => !(await ping()), 15_000), 'ICMP is denied: no rule allows it');
    const allowed = await fetchMotd(8080);
    assert.equal(allowed.code, 0, `TCP 8080 from the VM is allowed: ${allowed.stderr}`);
    assert.match(allowed.stdout, /hypervm test image/);
    const denied = await fetchMotd(8081);
    assert.equal(denied.code, 28, `TCP 8081 times out: dropped, not refused by the container: ${denied.stderr}`);
    await w.api.update('ports', 'port', port.id, { security_groups: port.security_groups });
    assert.ok(await eventually(ping, 15_000), 'ICMP is allowed again with the default group');
  });

  test('a spoofed source address from inside the container is dropped', async () => {
    await inContainer(['ip', 'addr', 'add', '10.70.0.222/24', 'dev', 'eth0']);
    const spoofed = await inContainer(['ping', '-c', '2', '-W', '1', '-I', '10.70.0.222', w.vmIp]);
    assert.notEqual(spoofed.code, 0, 'a ping from a spoofed source gets no answer');
    const real = await inContainer(['ping', '-c', '2', '-W', '2', w.vmIp]);
    assert.equal(real.code, 0, `the port’s own address still works: ${real.stdout}`);
  });
});
