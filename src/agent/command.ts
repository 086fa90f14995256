/** `hypernet agent`: the datapath agent of one node (runs as root, in the node's network namespace). */
import type { Command } from 'commander';
import { createLogger } from '../common/log.js';
import { startAgent } from './main.js';

export function register(program: Command): void {
  program
    .command('agent')
    .description('run the datapath agent of this node (root)')
    .requiredOption('--server <url>', 'server URL: http://host:port or unix:/path/server.sock')
    .option('--token <token>', 'API token (admin)')
    .requiredOption('--host <id>', 'host id of this node (ports with binding:host_id == id are local)')
    .requiredOption('--underlay-ip <ip>', 'underlay (provider) IP: the local VXLAN endpoint')
    .requiredOption('--cloud <label>', 'cloud / region label, e.g. cloud-a')
    .option('--underlay-mtu <n>', 'MTU of the underlay', '1500')
    .option('--netns-prefix <p>', 'prefix of namespaces the agent creates (DHCP)', 'hn-')
    .option('--state-dir <dir>', 'directory for generated files (dnsmasq)', '/var/lib/hypernet/agent')
    .option('--agentless', 'this node is a hyperswitch: run the OpenVPN servers of its agentless ports')
    .option(
      '--log-passes-over <ms>',
      'log the step times of every reconcile pass at least this long (env HYPERNET_LOG_PASSES_OVER)',
      process.env.HYPERNET_LOG_PASSES_OVER ?? '100',
    )
    .action(async (o: Record<string, string>) => {
      const log = createLogger('agent');
      const mtu = Number(o.underlayMtu);
      const slowPassMs = Number(o.logPassesOver);
      if (!Number.isFinite(slowPassMs) || slowPassMs < 0)
        throw new Error(`--log-passes-over: bad value ${o.logPassesOver}`);
      if (!Number.isInteger(mtu) || mtu < 1280) throw new Error(`--underlay-mtu: bad value ${o.underlayMtu}`);
      const agent = startAgent(
        {
          server: o.server,
          token: o.token,
          node: { host: o.host, underlayIp: o.underlayIp, underlayMtu: mtu },
          cloud: o.cloud,
          netnsPrefix: o.netnsPrefix,
          stateDir: o.stateDir,
          agentless: Boolean(o.agentless),
          slowPassMs,
        },
        { log },
      );
      const stop = (sig: string): void => {
        log.info({ sig }, 'stopping (datapath left in place for the next start to adopt)');
        void agent.stop().then(() => process.exit(0));
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
