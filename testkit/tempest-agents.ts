/**
 * Real `hypernet agent`s for the tempest run, as a deployment has them: the `agent` extension's tests
 * show, update and compare registered agents and need two of them. Each agent runs in a namespace of
 * its own (a veth underlay with a documentation address, nothing in the root namespace), reaches the
 * server over its Unix socket with a static admin token, and has encryption off (no WireGuard device).
 * `stop()` ends the agents by PID, then whatever else lives in the namespaces, and removes them.
 */
import { join } from 'node:path';
import { ApiClient } from '../src/client/api.js';
import type { Clock } from '../src/common/clock.js';
import type { Exec } from '../src/common/exec.js';
import { listNetns } from '../src/common/netns.js';
import { HYPERNET_BIN, startDaemon, stopPid, waitFor } from '../src/lab/processes.js';
import { deleteNetns } from './runs.js';

export interface TempestAgents {
  hosts: string[];
  stop(): Promise<void>;
}

export interface AgentsSpec {
  /** Work directory (state, logs and pid files; also the marker that proves a PID is ours). */
  dir: string;
  /** The server's Unix socket. */
  socket: string;
  token: string;
  /** Prefix of every namespace made here, the agents' DHCP namespaces included. */
  netnsPrefix: string;
  exec: Exec;
  clock: Clock;
}

export async function startTempestAgents(spec: AgentsSpec): Promise<TempestAgents> {
  const { exec, clock, dir } = spec;
  const nodes = ['a', 'b'].map((tag, i) => ({
    tag,
    ns: `${spec.netnsPrefix}node-${tag}`,
    host: `tempest-node-${tag}`,
    ip: `192.0.2.${i + 1}`,
  }));
  const pids: number[] = [];
  const stop = async () => {
    for (const pid of pids) await stopPid(pid, dir, clock);
    const ours = (await listNetns(exec)).filter((ns) => ns.startsWith(spec.netnsPrefix));
    for (const ns of ours) await deleteNetns(ns, 'SIGKILL');
  };
  try {
    await stop(); // what a run that was killed left behind
    for (const n of nodes) {
      await exec('ip', ['netns', 'add', n.ns]);
      const inNs = (args: string[]) => exec('ip', ['-n', n.ns, ...args]);
      await inNs(['link', 'set', 'lo', 'up']);
      // A veth pair inside the namespace stands for the underlay (the dummy module may be missing).
      await inNs(['link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1']);
      await inNs(['addr', 'add', `${n.ip}/24`, 'dev', 'u0']);
      await inNs(['link', 'set', 'u1', 'up']);
      await inNs(['link', 'set', 'u0', 'up']);
      const flags = {
        '--server': `unix:${spec.socket}`,
        '--token': spec.token,
        '--host': n.host,
        '--underlay-ip': n.ip,
        '--cloud': 'tempest-cloud',
        '--netns-prefix': `${spec.netnsPrefix}d${n.tag}-`,
        '--state-dir': join(dir, `agent-${n.tag}`),
        '--encryption': 'off',
      };
      pids.push(
        startDaemon({
          name: `agent-${n.tag}`,
          cmd: 'ip',
          args: ['netns', 'exec', n.ns, process.execPath, HYPERNET_BIN, 'agent', ...Object.entries(flags).flat()],
          logFile: join(dir, `agent-${n.tag}.log`),
          pidDir: dir,
        }),
      );
    }
    const api = new ApiClient({ url: `unix:${spec.socket}`, token: spec.token, timeoutMs: 5_000 });
    await waitFor(
      'both agents registered and alive',
      async () => {
        const { agents } = await api.call<{ agents: { host: string; alive: boolean }[] }>('GET', '/v2.0/agents');
        return nodes.every((n) => agents.some((a) => a.host === n.host && a.alive));
      },
      clock,
      60_000,
      250,
    );
    return { hosts: nodes.map((n) => n.host), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
