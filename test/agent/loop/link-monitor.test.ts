/**
 * The link monitor and what hangs on it (root, namespaces): a tap that appears in the node
 * namespace is enslaved at once although the periodic resync is a minute away; the monitor child is
 * restarted when it dies; and br_netfilter stays off on a node whose only port has port security
 * off (on while a filtered port is there, off again after). The line parser is checked without root.
 */
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { DatapathReconciler } from '../../../src/agent/datapath/reconciler.js';
import { FirewallDriver } from '../../../src/agent/firewall/driver.js';
import { FirewallReconciler } from '../../../src/agent/firewall/reconciler.js';
import { isLinkDeletion, LinkMonitor, tapOfMonitorLine } from '../../../src/agent/loop/link-monitor.js';
import type { ModelView } from '../../../src/model/model-cache.js';
import { Reconciler } from '../../../src/agent/loop/reconciler.js';
import { realClock } from '../../../src/common/clock.js';
import type { Exec } from '../../../src/common/exec.js';
import { silentLogger } from '../../../src/common/log.js';
import { agent, net, port, view } from '../../../testkit/model-fixtures.js';
import { addNetns, eventually, isRoot, removeRun, runPrefix, sh, sweepStale } from '../netns.js';
import { needsRoot } from '../../../testkit/preconditions.js';

test('monitor lines: new, released and deleted taps call for a pass; enslaved taps and other links do not', () => {
  assert.equal(
    tapOfMonitorLine(
      '7: tapaaaaaaaa-bb@if6: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether fa:16:3e:00:00:01',
    ),
    'tapaaaaaaaa-bb',
  );
  assert.equal(
    tapOfMonitorLine('Deleted 7: tapaaaaaaaa-bb@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN'),
    'tapaaaaaaaa-bb',
  );
  assert.equal(
    tapOfMonitorLine(
      '7: tapaaaaaaaa-bb@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue master hnb-100 state UP',
    ),
    null,
  );
  assert.equal(tapOfMonitorLine('3: hnb-100: <BROADCAST,MULTICAST> mtu 1450 qdisc noop state DOWN'), null);
  assert.equal(tapOfMonitorLine('garbage'), null);
});

test('monitor lines: a link deleted, told apart from a port leaving its bridge (both say Deleted)', () => {
  // As printed by `ip -o monitor link` (iproute2 6.1, kernel 6.18).
  const left =
    'Deleted 4: tapx@wx: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 master hnb-1 state DOWN \\    link/ether 56:e4:5a:47:8c:c4';
  const gone =
    'Deleted 4: tapx@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether 56:e4:5a:47:8c:c4 brd ff:ff:ff:ff:ff:ff';
  const changed =
    '4: tapx@wx: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN group default \\    link/ether 56:e4:5a:47:8c:c4 brd ff:ff:ff:ff:ff:ff';
  assert.equal(isLinkDeletion(left), false);
  assert.equal(isLinkDeletion(gone), true);
  assert.equal(isLinkDeletion(changed), false);
});

const prefix = runPrefix('lm');
const node = { host: 'hostA', underlayIp: '192.0.2.1', underlayMtu: 1500 };
const P1 = 'aaaaaaaa-bbbb-cccc-dddd-000000000001';
const TAP = 'tapaaaaaaaa-bb';
const modelWith = (extra: Parameters<typeof port>[5] = {}): ModelView =>
  view({
    networks: [net('n1', 100)],
    agents: [agent('a1', 'hostA', '192.0.2.1')],
    ports: [port(P1, 'n1', 'hostA', 'fa:16:3e:00:00:01', ['10.0.1.1'], extra)],
  });

describe('link monitor and br_netfilter (root, namespaces)', { skip: needsRoot() }, () => {
  let exec: Exec;
  const ns = `${prefix}node`;
  const stops: (() => Promise<void> | void)[] = [];

  before(async () => {
    await sweepStale();
    exec = await addNetns(ns);
    await sh(exec, [
      'ip link add u0 type veth peer name u1',
      'ip addr add 192.0.2.1/24 dev u0',
      'ip link set u0 up',
      'ip link set u1 up',
    ]);
  });
  after(async () => {
    for (const s of stops) await s();
    await removeRun(prefix);
  });

  const master = async (): Promise<string | null> => {
    const r = await exec('ip', ['-json', 'link', 'show', TAP], { allowFail: true });
    return r.code === 0 ? ((JSON.parse(r.stdout) as { master?: string }[])[0]!.master ?? null) : null;
  };

  it('enslaves a new tap at once, without waiting for the periodic resync', async () => {
    const model = modelWith();
    const loop = new Reconciler([new DatapathReconciler({ exec, node, log: silentLogger() })], {
      clock: realClock,
      log: silentLogger(),
      model: () => model,
      resyncMs: 60_000,
    });
    const seen: string[] = [];
    const mon = new LinkMonitor({
      clock: realClock,
      log: silentLogger(),
      onTap: (tap, gone) => {
        seen.push(`${tap} ${gone ? 'gone' : 'here'}`);
        loop.markDirty();
      },
      argv: ['ip', 'netns', 'exec', ns, 'ip', '-o', 'monitor', 'link'],
    });
    stops.push(
      () => mon.stop(),
      () => loop.stop(),
    );
    mon.start();
    loop.start();
    assert.ok(
      await eventually(
        async () => loop.runs >= 1 && (await exec('ip', ['link', 'show', 'hnb-100'], { allowFail: true })).code === 0,
        5_000,
      ),
      'first pass built the bridge',
    );
    await new Promise((r) => setTimeout(r, 300)); // the monitor child is listening
    const runs = loop.runs;
    await exec('ip', ['link', 'add', TAP, 'type', 'veth', 'peer', 'name', 'wl0']);
    assert.ok(
      await eventually(async () => (await master()) === 'hnb-100', 3_000),
      'tap enslaved within 3 s (resync is 60 s)',
    );
    assert.ok(loop.runs > runs, 'a pass ran because of the tap');

    // The child dies: it is started again, and still wakes the loop.
    const pid = mon.pid!;
    process.kill(pid, 'SIGKILL');
    assert.ok(
      await eventually(async () => mon.starts >= 2 && mon.pid !== undefined && mon.pid !== pid, 5_000),
      'monitor restarted',
    );
    await new Promise((r) => setTimeout(r, 300));
    await exec('ip', ['link', 'set', TAP, 'nomaster']);
    assert.ok(
      await eventually(async () => (await master()) === 'hnb-100', 3_000),
      'released tap enslaved again by the restarted monitor',
    );
    assert.ok(seen.includes(`${TAP} here`) && !seen.includes(`${TAP} gone`), seen.join(', '));
    await exec('ip', ['link', 'del', TAP]);
    assert.ok(
      await eventually(async () => seen.includes(`${TAP} gone`), 3_000),
      `the deletion is reported as such: ${seen.join(', ')}`,
    );
    await mon.stop();
    await loop.stop();
  });

  it('keeps br_netfilter off and no tables while the only port has port security off, both for a filtered port, off again after', async () => {
    const brnf = async (): Promise<string> => {
      const r = await exec('sysctl', ['-n', 'net.bridge.bridge-nf-call-iptables'], { allowFail: true });
      return r.code === 0 ? r.stdout.trim() : 'absent';
    };
    const tables = async (): Promise<string> =>
      (await exec('nft', ['list', 'tables'])).stdout
        .trim()
        .split('\n')
        .filter((l) => l.includes('hypernet'))
        .join(', ');
    const firewall = new FirewallReconciler('hostA', exec, silentLogger());
    const mode = await new FirewallDriver(exec, silentLogger()).detectMode();
    if (mode !== 'br-netfilter') return; // bridge-ct kernels never need it
    const off = modelWith({ port_security_enabled: false });
    await exec('nft', ['add', 'table', 'bridge', 'hypernet']); // left by an earlier run: swept
    await firewall.reconcile(off, { full: true, modelChanged: true });
    assert.ok(['0', 'absent'].includes(await brnf()), 'off with only a port-security-disabled port');
    assert.equal(await tables(), '', 'no tables of ours: nothing to filter');
    assert.equal(firewall.ready(P1), true, 'the unfiltered port is not held back');
    await firewall.reconcile(off, { full: false, modelChanged: true });
    assert.ok(['0', 'absent'].includes(await brnf()));
    await firewall.reconcile(modelWith(), { full: false, modelChanged: true });
    assert.equal(await brnf(), '1', 'on for a filtered port');
    assert.equal(await tables(), 'table bridge hypernet, table inet hypernet', 'and the tables back');
    await firewall.reconcile(off, { full: false, modelChanged: true });
    assert.equal(await brnf(), '0', 'off again');
    assert.equal(await tables(), '', 'tables gone again');
  });

  it('the firewall runs nothing on a pass a tap woke (inputs unchanged), and checks its tables on a full one', async () => {
    const calls: string[] = [];
    const counting: Exec = (cmd, args, o) => {
      calls.push(`${cmd} ${args.join(' ')}`);
      return exec(cmd, args, o);
    };
    const firewall = new FirewallReconciler('hostA', counting, silentLogger());
    const model = modelWith();
    await firewall.reconcile(model, { full: true, modelChanged: true });
    assert.ok(
      calls.some((c) => c.startsWith('nft -f')),
      'the first pass applies the ruleset',
    );
    assert.equal(firewall.ready(P1), true);
    calls.length = 0;
    await firewall.reconcile(model, { full: false, modelChanged: false });
    assert.equal(calls.join('; '), '', 'nothing to compile, nothing run');
    assert.equal(firewall.ready(P1), true, 'the gate stays open');
    await firewall.reconcile(model, { full: true, modelChanged: false });
    assert.ok(
      calls.some((c) => c.startsWith('nft list')),
      'a full pass checks the tables are still there',
    );
    await exec('nft', ['delete', 'table', 'bridge', 'hypernet'], { allowFail: true });
    await exec('nft', ['delete', 'table', 'inet', 'hypernet'], { allowFail: true });
  });
});
