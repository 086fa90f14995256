/**
 * Gratuitous ARP without arping: `garpFrames` builds what arping sends (Thomas Habets' arping, as
 * `garpCommands` runs it), and the raw frame sender (native/rawsend.c, a long-lived child) puts them
 * on the wire. As root, in a namespace of this run: frames sent both ways are captured with tcpdump
 * and compared byte for byte; one child sends every frame; an unknown interface is an error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { garpCommands, garpFrames, type Announcement } from '../../../src/agent/datapath/announce.js';
import { FrameSender, RAWSEND_PATH } from '../../../src/agent/native/frame-sender.js';
import { realExec, type Exec } from '../../../src/common/exec.js';
import { addNetns, removeRun, runPrefix, sh, sweepStale } from '../netns.js';
import { needsRoot } from '../../../testkit/preconditions.js';
import { startCapture } from '../../../testkit/frame-probe.js';

const A: Announcement = { portId: 'p1', bridge: 'b0', mac: 'FA:16:3E:00:00:05', ips: ['10.0.1.5', '10.0.1.6'] };

test('garpFrames: per address an unsolicited request and reply, as arping sends them (captured)', () => {
  const f = garpFrames(A);
  assert.equal(f.length, garpCommands(A).length);
  // Captured from `arping -U [-P] -c 1 -i b0 -S 10.0.1.5 -s fa:16:3e:00:00:05 10.0.1.5` (tcpdump -xx).
  const captured = (op: string) =>
    'fffffffffffffa163e0000050806' +
    `000108000604${op}fa163e0000050a000105ffffffffffff0a000105` +
    '00000000000000000000000000000000';
  assert.deepEqual(f.slice(0, 2), [captured('0001'), captured('0002')]);
  assert.ok(f[2]!.includes('0a000106ffffffffffff0a000106'));
});

describe('raw frame sender (root, namespaces)', { skip: needsRoot() }, () => {
  const prefix = runPrefix('ga');
  const ns = `${prefix}node`;
  let exec: Exec;
  let sender: FrameSender;

  before(async () => {
    await sweepStale();
    if (!FrameSender.built()) await realExec('npm', ['run', '--silent', 'build:native']);
    exec = await addNetns(ns);
    await sh(exec, [
      'ip link add b0 type bridge',
      'ip link add v0 type veth peer name v1',
      'ip link set v0 master b0',
      'ip link set b0 up',
      'ip link set v0 up',
      'ip link set v1 up',
    ]);
    sender = new FrameSender(['ip', 'netns', 'exec', ns, RAWSEND_PATH]);
  });
  after(async () => {
    sender?.close();
    await removeRun(prefix);
  });

  /** The ARP frames seen on v1 while `send` runs, as hex. */
  async function capture(send: () => Promise<void>, count: number): Promise<string[]> {
    const td = await startCapture(ns, 5, ['-i', 'v1', '-xx', '-c', String(count), 'arp']);
    await send();
    const out = await td.output;
    return out
      .split(/\n(?=\S)/)
      .filter((b) => b.includes('0x0000'))
      .map((b) =>
        [...b.matchAll(/0x[0-9a-f]+:\s+((?:[0-9a-f]{4}\s?)+)/g)].map((m) => m[1]!.replace(/\s/g, '')).join(''),
      );
  }

  test('frames sent by the helper equal what arping sends, byte for byte', async () => {
    const one = { ...A, ips: ['10.0.1.5'] };
    const byArping = await capture(async () => {
      for (const args of garpCommands(one)) await exec('arping', args, { allowFail: true });
    }, 2);
    const byHelper = await capture(async () => {
      for (const f of garpFrames(one)) await sender.send('b0', f);
    }, 2);
    assert.equal(byArping.length, 2);
    assert.deepEqual(byHelper, byArping);
    assert.deepEqual(byHelper, garpFrames(one));
  });

  test('one child sends them all; an unknown interface is an error, and the child goes on', async () => {
    await assert.rejects(sender.send('nosuch0', garpFrames(A)[0]!), /Cannot find device "nosuch0"/);
    for (const f of garpFrames(A)) await sender.send('b0', f);
    assert.equal(sender.starts, 1);
  });
});
