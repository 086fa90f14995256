/** `hypernet agent`: the datapath agent of one node (runs as root, in the node's network namespace). */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createLogger } from '../common/log.js';
import { startAgent } from './main.js';
import { rotate } from './crypt/keys.js';
import { isWgIfaceName } from '../model/encryption.js';
import { isEniId } from '../model/custom-route.js';
import { hyperVmLaunchSchema, type HyperVmLaunch } from '../model/hypervm-userdata.js';

const ENCRYPTION_MODES = ['auto', 'kernel', 'userspace', 'off'] as const;
export const FIREWALL_MODES = ['nftables', 'tc-bpf'] as const;
/** What an agent runs without `--firewall` (bench:hypervm's target applies to it). */
export const DEFAULT_FIREWALL_MODE: (typeof FIREWALL_MODES)[number] = 'nftables';

/** The --firewall value, checked. */
function firewallMode(m: string): (typeof FIREWALL_MODES)[number] {
  const mode = m as (typeof FIREWALL_MODES)[number];
  if (!FIREWALL_MODES.includes(mode)) throw new Error(`--firewall: one of ${FIREWALL_MODES.join(', ')}`);
  return mode;
}

export function register(program: Command): void {
  const agentCmd = program.command('agent');
  agentCmd
    .command('rotate-key')
    .description("replace this node's WireGuard key pair (the running agent registers the new public key)")
    // `--state-dir` is the agent command's own option (given before or after `rotate-key`).
    .action(() => {
      const k = rotate(agentCmd.opts().stateDir as string);
      process.stdout.write(`new public key ${k.publicKey}\n`);
    });
  agentCmd
    .description('run the datapath agent of this node (root)')
    .option(
      '--server <urls>',
      'server URL(s): http://host:port or unix:/path/server.sock, comma-separated to fail over',
    )
    .option('--token <token>', 'API token (admin)')
    .option('--host <id>', 'host id of this node (ports with binding:host_id == id are local)')
    .option('--underlay-ip <ip>', 'underlay (provider) IP: the local VXLAN endpoint')
    .option('--cloud <label>', 'cloud / region label, e.g. cloud-a')
    .option('--underlay-mtu <n>', 'MTU of the underlay', '1500')
    .option('--netns-prefix <p>', 'prefix of namespaces the agent creates (DHCP, routers)', 'hn-')
    .option('--state-dir <dir>', 'directory for generated files (dnsmasq)', '/var/lib/hypernet/agent')
    .option('--agentless', 'this node is a hyperswitch: run the OpenVPN servers of its agentless ports')
    .option('--custom-route', 'this node is a hyperswitch of custom-route mode: route and NAT its custom-route ports')
    .option(
      '--custom-route-interface <eni>',
      "with --custom-route: this hyperswitch's own ENI (eni-…), where the server routes the hyper subnets",
    )
    .option('--source-filtering', 'filter each flow with a port of another such node once (docs/security-groups.md)')
    .option(
      '--firewall <mode>',
      'security groups by nftables or tc-bpf (docs/security-groups.md)',
      DEFAULT_FIREWALL_MODE,
    )
    .option('--bpf-pin-dir <dir>', 'where tc-bpf pins its programs and maps (default /sys/fs/bpf/hypernet/<host>)')
    .option('--hypervm', 'this node is a HyperVM: run the LXC containers of the hypervms scheduled on it')
    .option('--repository <url>', "image repository of HyperVM pulls (default: the server's /repository)")
    .option('--hypervm-launch <file>', "this node is one HyperVM's provider VM: its launch file, from user_data")
    .option(
      '--log-passes-over <ms>',
      'log the step times of every reconcile pass at least this long (env HYPERNET_LOG_PASSES_OVER)',
      process.env.HYPERNET_LOG_PASSES_OVER ?? '100',
    )
    .option('--encryption <mode>', `WireGuard of the encrypted overlay: ${ENCRYPTION_MODES.join('|')}`, 'auto')
    .option('--wg-interface <name>', 'name of the WireGuard interface (default: hnwg + a digest of the host id)')
    .option('--wg-port <n>', 'UDP port of WireGuard on the underlay (the same on every node)', '51820')
    .option(
      '--metadata-secret-file <file>',
      "file holding metadata_proxy_shared_secret (as the server's): serve 169.254.169.254 to local ports",
    )
    .option('--metrics-listen <host:port>', 'serve /metrics, /healthz and /readyz here, without a token (default: off)')
    .action(async (o: Record<string, string>) => {
      // Checked here, not as required options: those would be asked of `agent rotate-key` too.
      for (const k of ['server', 'host', 'underlayIp', 'cloud'])
        if (!o[k]) throw new Error(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is required`);
      const log = createLogger('agent');
      const mtu = Number(o.underlayMtu);
      const slowPassMs = Number(o.logPassesOver);
      if (!Number.isFinite(slowPassMs) || slowPassMs < 0)
        throw new Error(`--log-passes-over: bad value ${o.logPassesOver}`);
      if (!Number.isInteger(mtu) || mtu < 1280) throw new Error(`--underlay-mtu: bad value ${o.underlayMtu}`);
      const enc = o.encryption as (typeof ENCRYPTION_MODES)[number];
      if (!ENCRYPTION_MODES.includes(enc)) throw new Error(`--encryption: one of ${ENCRYPTION_MODES.join(', ')}`);
      // The interface name reaches `ip` and `wg` command lines and an nft rule: a strict grammar.
      if (o.wgInterface !== undefined && !isWgIfaceName(o.wgInterface))
        throw new Error(`--wg-interface: bad name ${o.wgInterface}`);
      const wgPort = Number(o.wgPort);
      if (!Number.isInteger(wgPort) || wgPort < 1 || wgPort > 65535)
        throw new Error(`--wg-port: bad value ${o.wgPort}`);
      const metadataSecret = o.metadataSecretFile ? readFileSync(o.metadataSecretFile, 'utf8').trim() : undefined;
      if (metadataSecret !== undefined && metadataSecret.length < 16)
        throw new Error('--metadata-secret-file: the secret must have at least 16 characters');
      const customRouteInterface = checkCustomRouteInterface(o);
      const metricsListen = o.metricsListen === undefined ? undefined : hostPort(o.metricsListen);
      const agent = startAgent(
        {
          server: o.server,
          token: o.token,
          node: { host: o.host, underlayIp: o.underlayIp, underlayMtu: mtu },
          cloud: o.cloud,
          netnsPrefix: o.netnsPrefix,
          stateDir: o.stateDir,
          agentless: Boolean(o.agentless),
          customRoute: Boolean(o.customRoute),
          customRouteInterface,
          sourceFiltering: Boolean(o.sourceFiltering),
          firewallMode: firewallMode(o.firewall),
          bpfPinDir: o.bpfPinDir,
          hypervm: o.hypervm ? { repositoryUrl: o.repository, launch: readLaunch(o.hypervmLaunch) } : undefined,
          slowPassMs,
          encryption: enc,
          wgInterface: o.wgInterface,
          wgPort,
          metadataSecret,
          metricsListen,
        },
        { log },
      );
      if (agent.probes) {
        try {
          log.info({ url: (await agent.probes).url }, 'serving /metrics, /healthz and /readyz');
        } catch (e) {
          await agent.stop();
          throw new Error(`--metrics-listen ${o.metricsListen}: ${(e as Error).message}`);
        }
      }
      const stop = (sig: string): void => {
        log.info({ sig }, 'stopping (datapath left in place for the next start to adopt)');
        void agent.stop().then(() => process.exit(0));
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}

/** --custom-route-interface, checked: an ENI id, and only with --custom-route. */
export function checkCustomRouteInterface(o: Record<string, unknown>): string | undefined {
  const eni = o.customRouteInterface;
  if (eni === undefined) return undefined;
  if (!o.customRoute) throw new Error('--custom-route-interface needs --custom-route');
  if (!isEniId(eni)) throw new Error(`--custom-route-interface: not an ENI id (eni-…): ${String(eni)}`);
  return eni;
}

/** `HOST:PORT`, `[IPv6]:PORT`. */
export function hostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`--metrics-listen: expected HOST:PORT, got ${s}`);
  return { host: m[1] ?? m[2], port };
}

/** The launch file of a provider-launched HyperVM (written by cloud-init from its user_data). */
function readLaunch(file: string | undefined): HyperVmLaunch | undefined {
  return file === undefined ? undefined : hyperVmLaunchSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}
