/**
 * Fake-runner tests of the metadata driver's stop path: an unwanted proxy is signalled and waited for
 * until the process itself is gone, also when it removes its PID file before it exits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../../src/common/clock.js';
import type { Exec } from '../../../src/common/exec.js';
import { silentLogger } from '../../../src/common/log.js';
import type { ProcessOps } from '../../../src/agent/dhcp/dnsmasq-process.js';
import { MetadataDriver, metadataDir } from '../../../src/agent/metadata/driver.js';
import { NS_PROXY_SCRIPT, nsProxyArgs } from '../../../src/agent/metadata/ns-proxy-main.js';

/** A clock that moves only when slept on. */
function fakeClock(): Clock & { t: number } {
  const c = {
    t: 0,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
    },
  };
  return c;
}

/** No namespaces exist: every PID file then names a proxy to stop. */
const exec: Exec = async () => ({ stdout: '', stderr: '', code: 0 });

async function withProxy(
  exitAfterMs: number | null,
  fn: (driver: MetadataDriver, proc: { alive: boolean; signals: string[] }, clock: { t: number }) => Promise<void>,
): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), 'hn-md-driver-'));
  try {
    const dir = metadataDir(stateDir);
    await mkdir(dir, { recursive: true });
    const pidFile = join(dir, '1001.pid');
    await writeFile(pidFile, '4242\n');
    const clock = fakeClock();
    const proc = { alive: true, signals: [] as string[], diesAt: Number.POSITIVE_INFINITY };
    const argv = [
      process.execPath,
      NS_PROXY_SCRIPT,
      ...nsProxyArgs('net-1', '/s.sock', pidFile, join(dir, '1001.log')),
    ];
    const ops: ProcessOps = {
      cmdline: async (pid) => {
        if (clock.t >= proc.diesAt) proc.alive = false;
        return pid === 4242 && proc.alive ? argv : null;
      },
      signal: (pid, sig) => {
        assert.equal(pid, 4242);
        proc.signals.push(sig);
        // Like the real proxy: its PID file goes first, the process some time later.
        void rm(pidFile, { force: true });
        if (sig === 'SIGKILL') proc.diesAt = clock.t;
        else if (exitAfterMs !== null) proc.diesAt = clock.t + exitAfterMs;
      },
    };
    const driver = new MetadataDriver({
      exec,
      clock,
      log: silentLogger(),
      stateDir,
      netnsPrefix: 'hnmd-',
      socket: '/s.sock',
      processOps: ops,
    });
    await fn(driver, proc, clock);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

test('stop waits for the proxy to exit, not for its PID file', async () => {
  await withProxy(500, async (driver, proc, clock) => {
    const r = await driver.apply({ networks: [], identities: new Map() });
    assert.deepEqual(r.stopErrors, []);
    assert.deepEqual(proc.signals, ['SIGTERM']);
    assert.equal(proc.alive, false, 'apply returned while the proxy still ran');
    assert.ok(clock.t >= 500, `waited ${clock.t} ms of the 500 the proxy took`);
  });
});

test('a proxy that ignores SIGTERM gets SIGKILL; its files are gone', async () => {
  await withProxy(null, async (driver, proc) => {
    const r = await driver.apply({ networks: [], identities: new Map() });
    assert.deepEqual(r.stopErrors, []);
    assert.deepEqual(proc.signals, ['SIGTERM', 'SIGKILL']);
    assert.equal(proc.alive, false);
  });
});

test('nothing is signalled when no proxy runs', async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'hn-md-driver-'));
  try {
    const signals: string[] = [];
    const driver = new MetadataDriver({
      exec,
      clock: fakeClock(),
      log: silentLogger(),
      stateDir,
      netnsPrefix: 'hnmd-',
      socket: '/s.sock',
      processOps: { cmdline: async () => null, signal: (_p, s) => void signals.push(s) },
    });
    const r = await driver.apply({ networks: [], identities: new Map() });
    assert.deepEqual(r, { networks: [], stopErrors: [] });
    assert.deepEqual(signals, []);
    assert.deepEqual(await readdir(metadataDir(stateDir)), []);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});
