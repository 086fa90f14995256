/**
 * A real server with the agentless plugin and the `lab` provider, for the CLI and dashboard tests of
 * hyperswitches and agentless ports (needs root). Everything is named with a per-run prefix
 * `hn<letter><pid>-` (test/net/fixture.ts): the "internet" namespace the hyperswitches' data NICs are
 * routed into, the hyperswitch namespaces (each running a real `hypernet agent --agentless` that
 * reaches the server over its Unix socket) and the agentless VMs' namespaces. Stale runs are swept
 * first; close() deletes what the API made, then stops the recorded processes and removes every
 * namespace of the prefix (downLab), also after a failed test. Addresses from 203.0.113.0/24 only.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseAgentlessConfig } from '../../src/model/agentless-config.js';
import { addNetns, sysctlIn } from '../../src/lab/netns.js';
import { downLab } from '../../src/lab/world.js';
import { deps, runNames, sweepStaleRuns } from '../net/fixture.js';
import type { TokenInfo } from '../../src/server/auth.js';
import { startServer, type TestServer } from './server.js';

export interface AgentlessServer extends TestServer {
  prefix: string;
}

/** `tokens`: run under token auth with these callers (`admin` is then the first admin token's client). */
export async function startAgentlessServer(
  letter: string,
  opts: { tokens?: Record<string, TokenInfo> } = {},
): Promise<AgentlessServer> {
  await sweepStaleRuns();
  const { prefix, stateDir } = runNames(letter);
  await downLab(stateDir, prefix, deps); // this PID's own leftovers, if any
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  const inet = `${prefix}inet`;
  await addNetns(deps.exec, inet);
  await sysctlIn(deps.exec, inet, 'net.ipv4.ip_forward', 1);
  const sock = join(stateDir, 'server.sock');
  const agentless = parseAgentlessConfig({
    provider: 'lab',
    lab_state_dir: stateDir, // its pid files and process marker are then the ones downLab knows
    lab_netns_prefix: prefix,
    lab_vm_netns_prefix: `${prefix}vm-`,
    lab_internet_ns: inet,
    lab_data_cidr: '203.0.113.0/26',
    vms_cidr: ['203.0.113.64/27', '203.0.113.96/27', '203.0.113.128/27'],
    agent_server_url: `unix:${sock}`,
    cloud: 'agentless',
  });
  let srv: TestServer;
  try {
    srv = await startServer({
      config: { agentless },
      dataDir: join(stateDir, 'server'),
      unixSocket: sock,
      tokens: opts.tokens,
    });
  } catch (e) {
    await downLab(stateDir, prefix, deps);
    throw e;
  }
  return {
    ...srv,
    prefix,
    async close() {
      // Through the API first (the provider stops each hyperswitch's agent and removes its namespace).
      const admin = srv.admin;
      const ports = await admin.list<{ id: string }>('agentlessports').catch(() => []);
      for (const p of ports) await admin.delete('agentlessports', p.id).catch(() => undefined);
      const hss = await admin.list<{ id: string }>('hyperswitches').catch(() => []);
      for (const h of hss) await admin.delete('hyperswitches', h.id).catch(() => undefined);
      await srv.close();
      await downLab(stateDir, prefix, deps);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
