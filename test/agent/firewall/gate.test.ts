/**
 * Fail closed (root): the datapath does not plug a port's tap into its bridge before a firewall
 * apply covering the port has succeeded. The firewall's nft is made to fail first (the port must
 * stay out of the bridge), then to work (the next pass plugs it in), as in the agent's loop.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DatapathReconciler } from '../../../src/agent/datapath/reconciler.js';
import { FirewallReconciler } from '../../../src/agent/firewall/reconciler.js';
import { Reconciler } from '../../../src/agent/loop/reconciler.js';
import { realClock } from '../../../src/common/clock.js';
import type { Exec } from '../../../src/common/exec.js';
import { silentLogger } from '../../../src/common/log.js';
import { agent, net, port, view } from '../../../testkit/model-fixtures.js';
import { addNetns, isRoot, removeRun, runPrefix, sh, sweepStale } from '../netns.js';
import { needsRoot } from '../../../testkit/preconditions.js';

const prefix = runPrefix('g');
const node = { host: 'hostA', underlayIp: '192.0.2.1', underlayMtu: 1500 };
const P1 = 'aaaaaaaa-bbbb-cccc-dddd-000000000001';
const model = view({
  networks: [net('n1', 100)],
  agents: [agent('a1', 'hostA', '192.0.2.1')],
  ports: [port(P1, 'n1', 'hostA', 'fa:16:3e:00:00:01', ['10.0.1.1'])],
});

describe('firewall gate: no tap before the first apply', { skip: needsRoot() }, () => {
  let exec: Exec;
  let nftWorks = false;

  before(async () => {
    await sweepStale();
    exec = await addNetns(`${prefix}node`);
    await sh(exec, [
      'ip link add u0 type veth peer name u1',
      'ip addr add 192.0.2.1/24 dev u0',
      'ip link set u0 up',
      'ip link set u1 up',
      'ip link add tapaaaaaaaa-bb type veth peer name wl0',
    ]);
  });
  after(async () => removeRun(prefix));

  const master = async () =>
    (JSON.parse((await exec('ip', ['-json', 'link', 'show', 'tapaaaaaaaa-bb'])).stdout) as { master?: string }[])[0]!
      .master ?? null;

  it('keeps the tap out while the firewall fails, plugs it in once an apply succeeded', async () => {
    const fwExec: Exec = (cmd, args, opts) =>
      cmd === 'nft' && args[0] === '-f' && !nftWorks
        ? Promise.reject(new Error('nft unavailable'))
        : exec(cmd, args, opts);
    const firewall = new FirewallReconciler('hostA', fwExec, silentLogger());
    const loop = new Reconciler(
      [firewall, new DatapathReconciler({ exec, node, log: silentLogger(), gate: firewall })],
      {
        clock: realClock,
        log: silentLogger(),
        model: () => model,
      },
    );
    assert.equal(await loop.runOnce(model), false, 'the firewall failed');
    assert.equal(firewall.ready(P1), false);
    assert.equal(await master(), null, 'tap not in any bridge');
    const links = (JSON.parse((await exec('ip', ['-json', 'link', 'show'])).stdout) as { ifname: string }[]).map(
      (l) => l.ifname,
    );
    assert.ok(links.includes('hnb-100'), 'the rest of the datapath is built');
    nftWorks = true;
    assert.equal(await loop.runOnce(model), true);
    assert.equal(firewall.ready(P1), true);
    assert.equal(await master(), 'hnb-100');
  });
});
