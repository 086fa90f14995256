/**
 * Wires the agent together: API client, registration + heartbeats, watch → model cache, and the
 * reconcile loop over the sub-reconcilers (firewall, agentless OpenVPN on hyperswitches, HyperVM
 * containers, datapath, DHCP, metadata).
 *
 * Every feature is a folder of the same four parts (datapath/, firewall/, dhcp/, vpn/):
 *  - compile.ts (pure): this node and the watched model → the feature's desired state;
 *  - diff.ts (pure): desired vs. what its driver read → the operations, in one safe order;
 *  - driver.ts (effects, through the injected Exec): reads the kernel/files/processes, applies ops;
 *  - reconciler.ts: a SubReconciler (loop/reconciler.ts) gluing them, safe to repeat every pass.
 * A new feature (routers, encryption) adds such a folder, tests mirroring it in test/agent/<feature>/
 * (an incremental-equals-recompute property among them), and one entry in `subs` below, placed by
 * what it needs to exist first. An object it cannot compile is refused for its port alone and reported
 * (see the firewall's `rejected` and the datapath's gate), never failing the whole node.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../client/api.js';
import { realClock, type Clock } from '../common/clock.js';
import type { Exec } from '../common/exec.js';
import { BatchSessions } from '../common/batch-sessions.js';
import { ExecBroker } from '../common/exec-broker.js';
import type { Logger } from '../common/log.js';
import { OpenVpnServers } from './vpn/driver.js';
import { AgentlessReconciler } from './vpn/reconciler.js';
import { AgentlessWg } from './vpn/wg-reconciler.js';
import { agentlessWgIface } from '../model/encryption.js';
import { Announcer } from './datapath/announce.js';
import { DatapathCompiler, DatapathReconciler } from './datapath/reconciler.js';
import { FastEntriesReconciler } from './datapath/fast-entries.js';
import { FrameSender } from './native/frame-sender.js';
import { KernelReader } from './datapath/kernel-reader.js';
import { DhcpReconciler } from './dhcp/reconciler.js';
import { MetadataReconciler } from './metadata/reconciler.js';
import { L3Reconciler } from './l3/reconciler.js';
import { DEFAULT_NFT_ARGV, NftSession } from './firewall/nft-session.js';
import { FirewallReconciler } from './firewall/reconciler.js';
import { BpfFirewallDriver } from './firewall/bpf/driver.js';
import { BpfFirewallReconciler } from './firewall/bpf/reconciler.js';
import { SOURCE_FILTERING } from './firewall/source.js';
import { LinkMonitor } from './loop/link-monitor.js';
import { ModelCache, type ModelView } from '../model/model-cache.js';
import { PortStatusReporter } from './status-reporter.js';
import { Reconciler, type PassStep, type SubReconciler } from './loop/reconciler.js';
import { Registration } from './loop/registration.js';
import type { NodeInfo } from './datapath/types.js';
import { WatchLoop } from './loop/watch-loop.js';
import { DEFAULT_WG_PORT, defaultWgIface, planOf, tunnelDestinations, WG_TXQUEUELEN } from './crypt/compile.js';
import type { WgMode } from './crypt/driver.js';
import { CryptReconciler } from './crypt/reconciler.js';
import { WG_SOCKET_BUFFER, wgbufBuilt } from './native/wgbuf.js';
import { cpuMask } from './net-sysfs.js';
import { overlayMtu } from '../model/encryption.js';
import { HYPERVM_CAPABILITY } from '../model/hypervm.js';
import { LxcDriver } from './hypervm/driver.js';
import { HyperVmReconciler } from './hypervm/reconciler.js';
import { CustomRouteReconciler } from './customroute/reconciler.js';
import { CustomRouteDriver } from './customroute/driver.js';
import type { HyperVmLaunch } from '../model/hypervm-userdata.js';
import { AgentMetrics } from './metrics.js';
import { serveProbes, type Probes } from './probes.js';

export interface AgentConfig {
  server: string;
  token?: string;
  node: NodeInfo;
  cloud: string;
  /** Prefix for namespaces the agent creates (DHCP). */
  netnsPrefix: string;
  /** Where drivers keep generated files (dnsmasq configs, leases). */
  stateDir: string;
  resyncMs?: number;
  heartbeatMs?: number;
  /** A hyperswitch of agentless mode: also run the OpenVPN servers of its agentless ports. */
  agentless?: boolean;
  /**
   * Security groups filtered once per flow between two nodes that both do this (firewall/source.ts):
   * advertised as the SOURCE_FILTERING capability.
   */
  sourceFiltering?: boolean;
  /**
   * Security groups as tc-BPF programs on the taps instead of nftables (firewall/bpf/, issue 25's
   * second lever; default 'nftables'). Needs clang's object from `npm run build`, bpftool and tc.
   */
  firewallMode?: 'nftables' | 'tc-bpf';
  /** Where the tc-BPF mode pins its programs and maps, on a bpf filesystem (default /sys/fs/bpf/hypernet/<host>). */
  bpfPinDir?: string;
  /** Watch the node's links (`ip -o monitor link`) so a new tap is wired at once (default true). */
  linkMonitor?: boolean;
  /** Log the step times of passes at least this long (default 100 ms; 0: every pass, as the benchmark asks). */
  slowPassMs?: number;
  /**
   * The encrypted overlay (src/agent/crypt/): WireGuard implementation (auto-detected by default, or
   * forced), or 'off' (every tunnel that must be encrypted is then cut); its interface and UDP port.
   */
  encryption?: WgMode | 'off';
  wgInterface?: string;
  wgPort?: number;
  /** `metadata_proxy_shared_secret` (the server's too): serve 169.254.169.254 to local ports; absent: off. */
  metadataSecret?: string;
  /**
   * A HyperVM node (src/agent/hypervm/): runs the LXC containers of the hypervms scheduled on it,
   * pulling from `repositoryUrl` (default `<server>/repository`); `idBase` is the first uid/gid of the
   * containers' mapped range (default 100000). `launch`: this node is one HyperVM's provider VM and
   * its user_data carried the launch (port, repository, token), so its agent asks the server for none.
   */
  hypervm?: { repositoryUrl?: string; idBase?: number; launch?: HyperVmLaunch };
  /**
   * A hyperswitch of custom-route mode (src/agent/customroute/): serve the custom-route ports bound
   * here (routing, proxy ARP and, in mode `instead`, the 1:1 NAT to each VM's VPC address).
   */
  customRoute?: boolean;
  /** With customRoute: this hyperswitch's own ENI, which the server's controller routes the hyper subnets to. */
  customRouteInterface?: string;
  /** Serve /metrics, /healthz and /readyz (probes.ts) on this address; absent: off. */
  metricsListen?: { host: string; port: number };
}

export interface AgentDeps {
  exec?: Exec;
  /**
   * The firewall's long-lived `nft -i` (nft-session.ts), run where `exec` runs its commands. Default:
   * `nft -i` when `exec` is the real one; none (`nft -f` per apply) when `exec` is injected without it.
   */
  nftArgv?: readonly string[] | null;
  /**
   * The datapath's long-lived iproute2 batch children (common/batch-sessions.ts) are started with
   * this argv prefix (e.g. `ip netns exec NS`). Default: none needed ([]) when `exec` is the real one;
   * no sessions (a program per batch) when `exec` is injected without it.
   */
  batchPrefix?: readonly string[] | null;
  clock?: Clock;
  log: Logger;
}

export interface RunningAgent {
  cache: ModelCache;
  hypervms: HyperVmReconciler | null;
  crypt: CryptReconciler | null;
  reconciler: Reconciler;
  registration: Registration;
  watch: WatchLoop;
  links: LinkMonitor | null;
  /** The `metricsListen` endpoint once bound (rejects when it cannot bind), or null when off. */
  probes: Promise<Probes> | null;
  stop(): Promise<void>;
}

/** A sub-reconciler that makes links (TAPs): a kernel read made before it is stale after it. */
function changesLinks(sub: SubReconciler): SubReconciler {
  return {
    name: sub.name,
    reconcile: async (model, pass) => {
      if (pass) pass.kernel = undefined;
      await sub.reconcile(model, pass);
    },
  };
}

/** HyperVM fields the node's own reports change: not compiled from beyond the status the diff reads. */
const HYPERVM_REPORTED = new Set(['status_reason', 'updated_at', 'revision_number']);

/** Port fields the sub-reconcilers do not compile from: what the agents' status reports change. */
const REPORTED = new Set(['status', 'binding:vif_type', 'binding:vif_details', 'updated_at', 'revision_number']);

/** Each port object's part of the key, a digest of its fields (port objects are replaced on change,
 * never mutated): at 1,000 ports the key stays short, so building and comparing it on every wake-up is cheap. */
const portKeys = new WeakMap<object, string>();
const portKey = (p: object): string => memoDigest(portKeys, p, () => without(p, REPORTED));

const without = (o: object, fields: ReadonlySet<string>) =>
  Object.fromEntries(Object.entries(o).filter(([f]) => !fields.has(f)));

/**
 * The model as the sub-reconcilers see it, minus the port fields status reports change: an event that
 * only carries a port's status (this agent's own ACTIVE report, or another node's) gives the same key,
 * and the loop skips that pass (full passes still run every resync interval).
 */
export function compiledInputsKey(model: ModelView): string {
  const ports = [...model.ports.values()].map(portKey).join(',');
  const all = (objects: Iterable<object>, digest = digestOf) => Array.from(objects, digest).join(',');
  // One line per table, of the digests of its objects' JSON (as the ports'): each unchanged object's is reused.
  return [
    all(model.networks.values()),
    all(model.subnets.values()),
    ports,
    all(model.security_groups.values()),
    all(model.security_group_rules.values()),
    all(model.agents.values()),
    all(model.routers.values()),
    all(model.floatingips.values()),
    all(model.hypervms?.values() ?? [], hypervmDigest),
  ].join('\n');
}

/**
 * The digest of each model object's JSON, memoised per object (the model cache keeps an unchanged
 * object): a key no longer serializes and compares the whole model on each change, which at a
 * thousand nodes (their agents are in the model) was a fifth of an agent's compile (bench:scale).
 */
const digests = new WeakMap<object, string>();
const digestOf = (o: object): string => memoDigest(digests, o, () => o);

const hypervmDigests = new WeakMap<object, string>();
const hypervmDigest = (v: object): string => memoDigest(hypervmDigests, v, () => without(v, HYPERVM_REPORTED));

/** The sha256 of what `shown` gives for `o`, computed once per object. */
function memoDigest(memo: WeakMap<object, string>, o: object, shown: () => object): string {
  let d = memo.get(o);
  if (d === undefined) {
    d = createHash('sha256').update(JSON.stringify(shown())).digest('base64');
    memo.set(o, d);
  }
  return d;
}

export function startAgent(cfg: AgentConfig, deps: AgentDeps): RunningAgent {
  // Programs are started from a small broker process: a fork of the agent itself stalls its loop.
  const broker = deps.exec ? null : new ExecBroker();
  const baseExec = deps.exec ?? broker!.exec;
  // Kernel changes and the light link listings go to long-lived `ip`/`bridge` children: no program start per change.
  const batchPrefix = deps.batchPrefix !== undefined ? deps.batchPrefix : deps.exec ? null : [];
  const sessions = batchPrefix ? new BatchSessions(baseExec, batchPrefix) : null;
  const exec = sessions?.exec ?? baseExec;
  // Gratuitous ARP from one long-lived raw-socket child (built by `npm run build`), else arping.
  const frames = !deps.exec && FrameSender.built() ? new FrameSender() : null;
  if (!deps.exec && !frames) deps.log.warn('hn-rawsend not built (npm run build): gratuitous ARP falls back to arping');
  if (!deps.exec && !wgbufBuilt() && (cfg.encryption ?? 'auto') !== 'off')
    deps.log.warn('hn-wgbuf not built (npm run build): wireguard-go keeps its small UDP socket buffers');
  const clock = deps.clock ?? realClock;
  const log = deps.log;
  const api = new ApiClient({ url: cfg.server, token: cfg.token });
  const cache = new ModelCache();

  // First: filters are keyed by interface name; a tap is enslaved only once they cover it (fail closed).
  // One memory of the node's datapath (kernel-reader.ts) and one compile per model for the fast path and the datapath.
  const reader = new KernelReader(exec);
  const encrypting = (cfg.encryption ?? 'auto') !== 'off';
  const crypt: CryptReconciler | null = encrypting
    ? new CryptReconciler({
        exec,
        log: log.child({ sub: 'crypt' }),
        stateDir: cfg.stateDir,
        mode: (cfg.encryption as WgMode | undefined) ?? 'auto',
        // `registration` is made below; this runs only in reconcile passes, after it exists.
        sentKey: (): string | undefined => registration.sentKey,
        node: {
          ...cfg.node,
          iface: cfg.wgInterface ?? defaultWgIface(cfg.node.host),
          listenPort: cfg.wgPort ?? DEFAULT_WG_PORT,
          socketBuffer: wgbufBuilt() ? WG_SOCKET_BUFFER : 0,
          rpsCpus: cpuMask(availableParallelism()),
          txQueueLen: WG_TXQUEUELEN,
        },
      })
    : null;
  // A tap that appeared before the compile that knows its port wakes the loop once that compile ran.
  const compiler = new DatapathCompiler(
    cfg.node,
    () => reconciler?.markDirty(),
    (m) => tunnelDestinations(cfg.node, m, encrypting),
  );
  const nftArgv = deps.nftArgv !== undefined ? deps.nftArgv : deps.exec ? null : DEFAULT_NFT_ARGV;
  const nftSession = nftArgv ? new NftSession(nftArgv) : null;
  const firewall =
    cfg.firewallMode === 'tc-bpf'
      ? new BpfFirewallReconciler(
          cfg.node.host,
          new BpfFirewallDriver({
            node: exec,
            tc: exec,
            host: exec,
            pinDir: cfg.bpfPinDir ?? `/sys/fs/bpf/hypernet/${cfg.node.host}`,
            log: log.child({ sub: 'firewall' }),
          }),
          log.child({ sub: 'firewall' }),
        )
      : new FirewallReconciler(
          cfg.node.host,
          exec,
          log.child({ sub: 'firewall' }),
          nftSession,
          cfg.sourceFiltering ?? false,
        );
  // DHCP ports have their own reporter: a reporter's waiting updates are replaced by the next submit.
  const dhcpStatus = new PortStatusReporter(api, clock, log, undefined, () => reconciler?.markDirty());
  const dhcp = new DhcpReconciler({
    api,
    exec,
    clock,
    log: log.child({ sub: 'dhcp' }),
    node: cfg.node,
    netnsPrefix: cfg.netnsPrefix,
    stateDir: cfg.stateDir,
    background: true,
    onBackgroundDone: (ok) => {
      if (!ok) reconciler?.markDirty();
    },
    report: (u) => dhcpStatus.submit(u),
    mtuOf: (m, id) => overlayMtu(cfg.node.underlayMtu, cfg.node.underlayIp, planOf(m).plan.crossesEncryption(id)),
    metadata: cfg.metadataSecret !== undefined,
  });
  const metadata = cfg.metadataSecret
    ? new MetadataReconciler({
        api,
        exec,
        clock,
        log: log.child({ sub: 'metadata' }),
        host: cfg.node.host,
        netnsPrefix: cfg.netnsPrefix,
        stateDir: cfg.stateDir,
        secret: cfg.metadataSecret,
        dhcpDesired: () => dhcp.lastDesired,
      })
    : null;
  const hypervms = cfg.hypervm
    ? new HyperVmReconciler({
        api,
        host: cfg.node.host,
        providerIp: cfg.node.underlayIp,
        repositoryUrl:
          cfg.hypervm.launch?.repository_url ??
          cfg.hypervm.repositoryUrl ??
          `${cfg.server.replace(/\/+$/, '')}/repository`,
        launch: cfg.hypervm.launch,
        log: log.child({ sub: 'hypervm' }),
        driver: new LxcDriver({ exec, dir: join(cfg.stateDir, 'hypervm'), idBase: cfg.hypervm.idBase }),
        onLaunchDone: () => reconciler?.markDirty(),
      })
    : null;
  const agentless = cfg.agentless
    ? new AgentlessReconciler({
        api,
        host: cfg.node.host,
        log: log.child({ sub: 'agentless' }),
        servers: new OpenVpnServers({
          exec,
          clock,
          log: log.child({ sub: 'openvpn' }),
          dir: join(cfg.stateDir, 'openvpn'),
        }),
        wg: new AgentlessWg({
          exec,
          log: log.child({ sub: 'wireguard-agentless' }),
          node: {
            host: cfg.node.host,
            iface: agentlessWgIface(cfg.node.host),
            keyFile: join(cfg.stateDir, 'wireguard', 'agentless.key'),
            socketBuffer: wgbufBuilt() ? WG_SOCKET_BUFFER : 0,
            rpsCpus: cpuMask(availableParallelism()),
            txQueueLen: WG_TXQUEUELEN,
          },
        }),
      })
    : null;
  const datapath = new DatapathReconciler({
    exec,
    node: cfg.node,
    log: log.child({ sub: 'datapath' }),
    reporter: new PortStatusReporter(api, clock, log, undefined, () => reconciler?.markDirty()),
    servedWithoutTap: agentless ? () => agentless.servedWithoutTap() : undefined,
    announcer: new Announcer(exec, log.child({ sub: 'announce' }), frames),
    gate: firewall,
    reader,
    compiler,
  });
  const subs: PassStep[] = [
    // FDB/neighbour entries on existing devices, at the same time as the firewall (disjoint kernel
    // state): a migrated port is repointed without waiting for nft, and the pass pays for one of the two.
    // First of all: an encrypted peer must exist before any FDB entry points at its inner address
    // (its guard table, which only filters what comes in, goes beside the entries).
    ...(crypt ? [crypt] : []),
    [
      new FastEntriesReconciler(exec, cfg.node, log.child({ sub: 'fast-entries' }), reader, compiler),
      firewall,
      ...(crypt ? [crypt.guard] : []),
    ],
    // Before the datapath: a container's veth is its port's tap, which the datapath then enslaves.
    ...(hypervms ? [changesLinks(hypervms)] : []),
    // Before the datapath: it makes the custom-route ports' veths, whose tap end the datapath enslaves.
    ...(cfg.customRoute
      ? [
          changesLinks(
            new CustomRouteReconciler({
              host: cfg.node.host,
              driver: new CustomRouteDriver(exec),
              log: log.child({ sub: 'custom-route' }),
            }),
          ),
        ]
      : []),
    // Before the datapath: it makes the agentless ports' TAPs, which the datapath then enslaves.
    ...(agentless ? [changesLinks(agentless)] : []),
    datapath,
    // After the datapath: router interfaces join its bridges.
    new L3Reconciler({
      exec,
      log: log.child({ sub: 'l3' }),
      node: { ...cfg.node, cloud: cfg.cloud, netnsPrefix: cfg.netnsPrefix },
      frames,
    }),
    // After the datapath: DHCP needs the bridges.
    // In the background: the next pass (a new tap) does not wait for dnsmasq; a failure wakes the loop.
    dhcp,
    // After DHCP: its proxies listen in the DHCP namespaces.
    ...(metadata ? [metadata] : []),
  ];

  const registration = new Registration({
    api,
    clock,
    log,
    node: cfg.node,
    cloud: cfg.cloud,
    capabilities: [
      'vxlan',
      'dhcp',
      ...(cfg.agentless ? ['agentless-openvpn'] : []),
      ...(cfg.customRoute ? ['custom-route'] : []),
      ...(cfg.sourceFiltering ? [SOURCE_FILTERING] : []),
      ...(cfg.hypervm ? [HYPERVM_CAPABILITY] : []),
    ],
    customRouteInterface: cfg.customRoute ? cfg.customRouteInterface : undefined,
    intervalMs: cfg.heartbeatMs,
    publicKey: crypt ? () => crypt.keys.publicKey : undefined,
    onKeySent: () => reconciler?.markDirty(),
    encryptionStatus: crypt ? () => crypt.status : undefined,
    onServerBack: () => watch.retryNow(),
  });
  let reconciler: Reconciler | null = null;
  const metrics = cfg.metricsListen ? new AgentMetrics(cfg.node.host) : null;
  const watch = new WatchLoop({
    api,
    cache,
    clock,
    log,
    onChange: () => reconciler?.markModelChanged(),
    onEvent: metrics ? (e) => e.kind === 'port' && metrics.portChanged(e.revision, clock.now()) : undefined,
  });
  reconciler = new Reconciler(subs, {
    clock,
    log,
    resyncMs: cfg.resyncMs ?? 2_000,
    coalesceMs: 5,
    slowPassMs: cfg.slowPassMs,
    inputKey: compiledInputsKey,
    onPass: metrics ? (pass, model) => metrics.record(pass, model) : undefined,
    // A skipped pass may still carry a status this node must answer (datapath.reportStatus).
    onSkip: (model, at) => {
      metrics?.converged(model.revision, at);
      datapath.reportStatus(model);
    },
    // Leave the datapath alone until the first snapshot, and while the server is unreachable.
    model: () => (cache.ready && watch.connected ? cache.view() : null),
  });

  // Ready: the model is synced and the node was checked against all of it once (a full pass succeeded).
  const probes =
    metrics && cfg.metricsListen
      ? serveProbes({
          ...cfg.metricsListen,
          registry: metrics.registry,
          notReady: () => metrics.notReady(cache.ready && watch.connected),
        })
      : null;
  // Logged here too, so a caller that does not await `probes` gets no unhandled rejection.
  probes?.catch((e: Error) => log.error({ err: e.message }, 'cannot serve --metrics-listen'));

  // A tap that appears (nova plugged a VM) or goes away wakes the loop now, not at the next resync —
  // when it is the tap of a port wired here: the agent's own release of a deleted port's tap, and
  // that tap going with its VM, call for no pass (at 1,000 ports each pass costs tens of ms). The
  // check uses the last compiled state, no compile of its own. A tap whose port is newer than that
  // (its event on the way, or its pass not compiled yet) is wired by the pass that event starts (it lists loose taps)
  // or, when that pass listed the links before the tap appeared, by the pass its compile wakes (onKnownTap).
  const links =
    cfg.linkMonitor === false
      ? null
      : new LinkMonitor({
          clock,
          log: log.child({ sub: 'links' }),
          onTap: (tap, gone) => {
            if (gone) {
              reader.forgetLink(tap);
              compiler.forgetTap(tap);
            }
            // tc-BPF keys a tap's map entries by ifindex: a tap come or gone is listed again.
            if (firewall instanceof BpfFirewallReconciler) firewall.forgetTap(tap);
            if (!compiler.knowsTap(tap, !gone)) return;
            reconciler?.markDirty();
          },
        });

  // The helper processes start now, while the agent registers and waits for its first snapshot:
  // a restarted agent's first pass (adopting everything on the node) does not wait for them.
  broker?.warm();
  sessions?.warm();
  nftSession?.warm();
  if (firewall instanceof FirewallReconciler) firewall.warm();
  // The first pass is full: its kernel read (at 1,000 ports the slow part of adopting a node) is made
  // ahead too, as for every full pass (kernel-reader.ts: what changes meanwhile is seen on top of it).
  void reader.prefetchFull();
  registration.start();
  watch.start();
  links?.start();
  reconciler.start();
  return {
    cache,
    hypervms,
    crypt,
    reconciler,
    registration,
    watch,
    links,
    probes,
    async stop() {
      links?.stop();
      await probes?.then(
        (p) => p.close(),
        () => undefined,
      );
      await Promise.all([reconciler!.stop(), watch.stop(), registration.stop()]);
      await dhcp.idle();
      await metadata?.close();
      await hypervms?.idle();
      nftSession?.close();
      sessions?.close();
      frames?.close();
      broker?.close();
    },
  };
}
