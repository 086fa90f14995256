/**
 * The lab's world plan: a pure function from options to a frozen description of everything the lab
 * builds — namespace and interface names, underlay subnets carved from the documentation ranges,
 * addresses, MTUs, agent host ids, file paths. Nothing here touches the machine, so it is unit-tested
 * without root and every other lab module (topology, processes, VMs, status, down) reads names from it.
 */
import { join } from 'node:path';
import { DEFAULT_ENCRYPTION, type EncryptionPolicy, overlayMtu, policyEncrypts } from '../model/encryption.js';
import { deepFreeze } from '../common/freeze.js';
import { bigIntToIp, cidrContains, parseCidr } from '../model/grammar/addresses.js';
import type { CustomRouteMode } from '../model/custom-route.js';

export interface LabOptions {
  /** Prefix of every namespace the lab (and its agents) create, e.g. `hnlab-`. */
  prefix: string;
  stateDir: string;
  clouds: number;
  vmsPerCloud: number;
  /** TCP port of the server's API on 127.0.0.1 in the root namespace (0 = none/any, decided by the caller). */
  apiPort: number;
  apiHost: string;
  underlayMtu: number;
  /** The tenant ("hyper") network's CIDR. */
  hyperCidr: string;
  /**
   * Tenant networks behind the lab's router (`--networks`): the first is `hyperCidr`, the others the
   * next blocks of its size (10.0.2.0/24, …). A cloud's VMs take them in turn.
   */
  networks: number;
  /** How many VMs of the last cloud run no agent, only the stock OpenVPN client (agentless mode). */
  agentlessVms: number;
  /** A private Keystone, the server with `--auth keystone` and a clouds.yaml (keystone-lab.ts). */
  keystone: boolean;
  /** HyperVMs (containers on the clouds' agents, `--hypervm`) spread over the clouds. */
  hypervms: number;
  /**
   * The last cloud launches HyperVMs through the lab provider (one namespace with its own agent per
   * HyperVM: the server's `agentless:` section, `hypervm_provider`), instead of on its agent.
   */
  hypervmProvider?: boolean;
  /**
   * The server's default encryption policy (its config's `encryption`). Benchmarks whose baseline does no
   * encryption set `none`, so that both sides of a ratio do the same work.
   */
  encryption: EncryptionPolicy;
  /**
   * Cloud labels by cloud index (default `cloud-<letter>`): two hyperswitches with one label are two
   * nodes of one cloud (bench:encryption measures `all` on such a pair).
   */
  cloudLabels?: readonly string[];
  /** A PostgreSQL URL: the lab's servers use it (`--database`) instead of SQLite in the state directory. */
  database?: string;
  /** How many servers to run (default 1); more than one needs `database` (they share it). */
  servers?: number;
  /** The agents' security groups: nftables (default) or tc-bpf (firewall.ts). */
  firewall?: LabFirewall;
  /**
   * VMs of the `vpc` cloud (`--custom-route-vms`): ordinary VMs of a VPC behind the lab's EC2 endpoint,
   * on the hyper network through a custom-route hyperswitch (vpc-cloud.ts). 0: no vpc cloud.
   */
  customRouteVms?: number;
}

/** The most custom-route VMs a lab makes (each is a namespace, a VPC ENI and a port). */
export const MAX_CUSTOM_ROUTE_VMS = 8;

/** The lab agents' security-group mode (firewall.ts). */
export type LabFirewall = 'nftables' | 'tc-bpf';

export const DEFAULT_OPTIONS: Readonly<LabOptions> = Object.freeze({
  prefix: 'hnlab-',
  stateDir: '/var/lib/hypernet-lab',
  clouds: 2,
  vmsPerCloud: 2,
  apiPort: 9696,
  apiHost: '127.0.0.1',
  underlayMtu: 1500,
  hyperCidr: '10.0.1.0/24',
  networks: 1,
  agentlessVms: 0,
  keystone: false,
  hypervms: 0,
  encryption: DEFAULT_ENCRYPTION,
});

/** The documentation ranges (RFC 5737): the only underlay addresses the lab uses. */
export const DOC_RANGES: readonly string[] = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'];

export interface VmPlan {
  /** Display name, e.g. `vm-a1`. */
  name: string;
  cloud: string;
  ns: string;
  /**
   * The cloud's hyperswitch (agent host id): this VM's port is bound to it, and it routes the VM's
   * native address. An agentless VM's port is bound to an agentless hyperswitch instead (the API
   * picks it); its cloud's hyperswitch still routes its native address.
   */
  hostId: string;
  hyperswitchNs: string;
  /**
   * An underlay-routed address for native (no overlay) paths, or null when the cloud's range is full;
   * agentless VMs have one too (the agentless benchmark's bare tunnel runs between native addresses).
   */
  nativeIp: string | null;
  /** Host-side name of the native veth (in the hyperswitch namespace). */
  nativeHostIf: string;
  /** No agent: the VM reaches the hyper network through a hyperswitch by OpenVPN (src/lab/agentless.ts). */
  agentless?: boolean;
  /** Index of the VM's tenant network in `LabPlan.networks` (absent: the first). */
  network?: number;
}

/** One tenant network of the lab, with its one IPv4 subnet. */
export interface TenantNetworkPlan {
  name: string;
  cidr: string;
}

export interface CloudPlan {
  index: number;
  /** Cloud label, e.g. `cloud-a`. */
  label: string;
  /** The whole underlay subnet of this cloud. */
  subnet: string;
  /** Lower half: the link between the internet and the hyperswitch. */
  transitCidr: string;
  transitPrefixLen: number;
  /** Upper half: cloud-local workload addresses, routed by the hyperswitch (native paths). */
  workloadCidr: string;
  /** The internet's address on this cloud's link (the hyperswitch's default gateway). */
  gatewayIp: string;
  /** The hyperswitch's underlay IP: VXLAN tunnels end here. */
  underlayIp: string;
  /** Agent host id (`binding:host_id` of this cloud's ports). */
  hostId: string;
  hyperswitchNs: string;
  /** Interface names: in the internet namespace, and in the hyperswitch namespace. */
  internetIf: string;
  hyperswitchIf: string;
  /** Prefix the agent gives the namespaces it creates (DHCP), inside the lab prefix. */
  agentNetnsPrefix: string;
  agentStateDir: string;
  vms: VmPlan[];
}

export interface LabPaths {
  stateDir: string;
  /** `stateDir/`: every process the lab (or its agents) starts names it; how `down` knows them. */
  marker: string;
  stateFile: string;
  socket: string;
  serverDataDir: string;
  logDir: string;
  pidDir: string;
  dhcpDir: string;
  dhclientScript: string;
  dhclientConf: string;
}

export interface LabPlan {
  prefix: string;
  paths: LabPaths;
  internetNs: string;
  underlayMtu: number;
  overlayMtu: number;
  api: { host: string; port: number };
  hyperCidr: string;
  /** The tenant networks (absent in the lab.json of older labs: one, `hyperCidr`; see tenantNetworks). */
  networks?: TenantNetworkPlan[];
  clouds: CloudPlan[];
  vms: VmPlan[];
  /** Agentless mode (when some VMs are agentless): the lab provider's addresses (see agentlessPlan). */
  agentless: AgentlessLabPlan | null;
  /** Keystone in front of the API (absent in the lab.json of older labs: false). */
  keystone?: boolean;
  /** HyperVMs of `--hypervms` (absent in the lab.json of older labs: 0). */
  hypervms?: number;
  /** The last cloud launches HyperVMs through the lab provider (LabOptions.hypervmProvider). */
  hypervmProvider?: boolean;
  /** The server's default encryption policy (absent in the lab.json of older labs: the default). */
  encryption?: EncryptionPolicy;
  /** PostgreSQL URL of the servers' store (absent: SQLite in `paths.serverDataDir`). */
  database?: string;
  /** Servers the lab runs (absent: 1). */
  servers?: number;
  /** The agents' security-group mode (absent: nftables, the agent's default). */
  firewall?: LabFirewall;
  /** The `vpc` cloud of `--custom-route-vms` (absent: none). */
  vpc?: VpcPlan;
}

/** A custom-route VM of the vpc cloud: only its VPC address; its hyper IP lives on the hyperswitch. */
export interface VpcVmPlan {
  /** `vm-vpc1`, … */
  name: string;
  ns: string;
  /** Odd VMs `instead`, even ones `in-addition` (their user_data adds the hyper IP). */
  mode: CustomRouteMode;
}

/**
 * The lab's `vpc` cloud: the EC2 endpoint daemon with its VPC router namespace, two custom-route
 * hyperswitches (active, standby) with an underlay link each like the other clouds' nodes, and VMs.
 */
export interface VpcPlan {
  label: string;
  /** The VPC router namespace (NetnsVpcDataplane): EC2's fabric and the main route table. */
  routerNs: string;
  vpcCidr: string;
  /** The one subnet of the hyperswitches' ENIs and the VMs' ENIs. */
  subnetCidr: string;
  /** `[active, standby]`: the VMs' ports are bound to the first. */
  hyperswitches: CloudPlan[];
  vms: VpcVmPlan[];
  /** The endpoint daemon's directory: its address file and control socket. */
  dir: string;
}

export interface AgentlessCloudPlan {
  /** Cloud the agentless hyperswitches register in. */
  cloud: string;
  /** mgnt and data IPs of the hyperswitches. */
  dataCidr: string;
  /** The provider subnets of the VMs' OpenVPN NICs (index 0, 1, 2); they exist only inside namespaces. */
  vmsCidr: string[];
  /** Name prefix of a VM's provider NICs of this cloud (`eth` → eth0). */
  nicPrefix: string;
}

/** The last cloud's agentless provider (where agentless VMs start), and the other cloud's (where they can move). */
export interface AgentlessLabPlan extends AgentlessCloudPlan {
  others: AgentlessCloudPlan[];
}

/**
 * Agentless addresses come from the documentation range no cloud uses (203.0.113.0/24 with at most
 * two clouds), in /27s: data of the last cloud, data of the first, the last cloud's three vms subnets,
 * then the first cloud's (so a VM can move there: another provider NIC, another VPN endpoint).
 */
function agentlessPlan(labels: string[], n: number): AgentlessLabPlan | null {
  if (n === 0) return null;
  if (labels.length > 2)
    throw new Error('agentless VMs need at most 2 clouds (203.0.113.0/24 holds the hyperswitch and vms addresses)');
  const vms = (k: number) => [0, 1, 2].map((i) => `203.0.113.${64 + 96 * k + 32 * i}/27`);
  const home = labels[labels.length - 1]!;
  const others = labels
    .slice(0, -1)
    .map((cloud) => ({ cloud, dataCidr: '203.0.113.32/27', vmsCidr: vms(1), nicPrefix: `eth${cloud.slice(-1)}` }));
  return { cloud: home, dataCidr: '203.0.113.0/27', vmsCidr: vms(0), nicPrefix: 'eth', others };
}

const intToIp = (n: number): string => bigIntToIp(BigInt(n), 4);

/** Splits the documentation ranges into `n` equal subnets, as large as possible (/24 for n ≤ 3). */
export function carveUnderlays(n: number): string[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`clouds must be a positive integer, got ${n}`);
  let extra = 0;
  while (DOC_RANGES.length << extra < n) extra++;
  const len = 24 + extra;
  if (len > 28) throw new Error(`too many clouds (${n}): at most ${DOC_RANGES.length << 4}`);
  const out: string[] = [];
  for (const range of DOC_RANGES) {
    const base = Number(parseCidr(range).network);
    for (let k = 0; k < 1 << extra && out.length < n; k++) out.push(`${intToIp(base + k * (1 << (32 - len)))}/${len}`);
  }
  return out;
}

/** Cloud letters: a…z, then a0, a1 … so names stay short. */
function cloudLetter(i: number): string {
  return i < 26 ? String.fromCharCode(97 + i) : `${String.fromCharCode(97 + Math.floor(i / 26) - 1)}${i % 26}`;
}

export function labMarker(stateDir: string): string {
  return `${stateDir.replace(/\/+$/, '')}/`;
}

export function labPaths(stateDir: string): LabPaths {
  return Object.freeze({
    stateDir,
    marker: labMarker(stateDir),
    stateFile: join(stateDir, 'lab.json'),
    socket: join(stateDir, 'server.sock'),
    serverDataDir: join(stateDir, 'server'),
    logDir: join(stateDir, 'logs'),
    pidDir: join(stateDir, 'pids'),
    dhcpDir: join(stateDir, 'dhcp'),
    dhclientScript: join(stateDir, 'dhcp', 'dhclient-script.sh'),
    dhclientConf: join(stateDir, 'dhcp', 'dhclient.conf'),
  });
}

/** Builds the frozen plan. Throws on options that cannot make a world (bad counts, long prefix). */
export function planLab(partial: Partial<LabOptions> = {}): LabPlan {
  const o: LabOptions = { ...DEFAULT_OPTIONS, ...partial };
  // Upper case is allowed so that runs sharing a machine can be told apart by a letter (only namespaces use it).
  if (!/^[A-Za-z0-9-]{1,12}$/.test(o.prefix)) throw new Error(`prefix must be 1–12 of [A-Za-z0-9-], got "${o.prefix}"`);
  if (!Number.isInteger(o.vmsPerCloud) || o.vmsPerCloud < 0 || o.vmsPerCloud > 50)
    throw new Error(`vms per cloud must be 0…50, got ${o.vmsPerCloud}`);
  if (!Number.isInteger(o.underlayMtu) || o.underlayMtu < 1280 || o.underlayMtu > 65535)
    throw new Error(`underlay MTU must be 1280…65535, got ${o.underlayMtu}`);
  parseCidr(o.hyperCidr);
  if (!Number.isInteger(o.apiPort) || o.apiPort < 0 || o.apiPort > 65535) throw new Error(`bad API port ${o.apiPort}`);
  if (o.keystone && o.apiPort === 0)
    throw new Error('--keystone needs the API on a TCP port (the catalog points to it)');
  if (!Number.isInteger(o.agentlessVms) || o.agentlessVms < 0 || o.agentlessVms > o.vmsPerCloud)
    throw new Error(`agentless VMs must be 0…${o.vmsPerCloud} (VMs per cloud), got ${o.agentlessVms}`);
  if (!Number.isInteger(o.networks) || o.networks < 1 || o.networks > 4)
    throw new Error(`networks must be 1…4, got ${o.networks}`);
  const networks = tenantCidrs(o.hyperCidr, o.networks).map((cidr, i) => ({
    name: i === 0 ? 'hyper-net' : `hyper-net-${i + 1}`,
    cidr,
  }));
  if (!Number.isInteger(o.hypervms) || o.hypervms < 0 || o.hypervms > 20)
    throw new Error(`hypervms must be 0…20, got ${o.hypervms}`);
  if (o.firewall !== undefined && o.firewall !== 'nftables' && o.firewall !== 'tc-bpf')
    throw new Error(`firewall must be nftables or tc-bpf, got ${o.firewall}`);
  const servers = o.servers ?? 1;
  if (!Number.isInteger(servers) || servers < 1 || servers > 5) throw new Error(`servers must be 1…5, got ${servers}`);
  if (servers > 1 && !o.database) throw new Error('several servers need a shared database (a PostgreSQL URL)');
  const paths = labPaths(o.stateDir);
  const customRouteVms = o.customRouteVms ?? 0;
  if (!Number.isInteger(customRouteVms) || customRouteVms < 0 || customRouteVms > MAX_CUSTOM_ROUTE_VMS)
    throw new Error(`custom-route VMs must be 0…${MAX_CUSTOM_ROUTE_VMS}, got ${customRouteVms}`);
  // The vpc cloud takes an underlay subnet of its own, the last one carved.
  const underlays = carveUnderlays(o.clouds + (customRouteVms ? 1 : 0));
  if (customRouteVms && (o.agentlessVms || o.hypervmProvider) && underlays.length > 2)
    throw new Error('agentless VMs need at most 2 clouds, the vpc cloud of --custom-route-vms included');
  // The VPC route table carries the VMs' network only: another subnet behind the router is out of reach.
  if (customRouteVms && o.networks > 1) throw new Error('custom-route VMs need a single tenant network');
  const clouds: CloudPlan[] = underlays.slice(0, o.clouds).map((subnet, index) => {
    const letter = cloudLetter(index);
    return planCloud(o, subnet, index, letter, o.cloudLabels?.[index] ?? `cloud-${letter}`, o.vmsPerCloud);
  });
  const vpc = customRouteVms ? planVpc(o, underlays[o.clouds]!, customRouteVms) : undefined;
  return deepFreeze({
    prefix: o.prefix,
    paths,
    internetNs: `${o.prefix}inet`,
    underlayMtu: o.underlayMtu,
    // With the server's default policy (cross-cloud), a network spanning clouds is encrypted between
    // them, and DHCP gives its workloads room for WireGuard too (docs/encryption.md).
    overlayMtu: overlayMtu(
      o.underlayMtu,
      clouds[0].underlayIp,
      encryptsAPair(o.encryption, [...clouds, ...(vpc?.hyperswitches ?? [])]),
    ),
    api: { host: o.apiHost, port: o.apiPort },
    hyperCidr: o.hyperCidr,
    networks,
    clouds,
    vms: clouds.flatMap((c) => c.vms),
    agentless: agentlessPlan(
      clouds.map((c) => c.label),
      // The provider's addresses serve HyperVM provider VMs too (their data NICs).
      o.agentlessVms || (o.hypervmProvider ? 1 : 0),
    ),
    keystone: o.keystone,
    hypervms: o.hypervms,
    ...(o.hypervmProvider ? { hypervmProvider: true } : {}),
    encryption: o.encryption,
    ...(o.database ? { database: o.database } : {}),
    ...(servers > 1 ? { servers } : {}),
    ...(o.firewall === 'tc-bpf' ? { firewall: o.firewall } : {}),
    ...(vpc ? { vpc } : {}),
  });
}

/** One cloud's node (hyperswitch) with its underlay link and `vmCount` VMs, on underlay `subnet`. */
function planCloud(
  o: LabOptions,
  subnet: string,
  index: number,
  letter: string,
  label: string,
  vmCount: number,
): CloudPlan {
  const { network, prefix: len } = parseCidr(subnet);
  const base = Number(network);
  const half = 1 << (32 - len - 1);
  const hyperswitchNs = `${o.prefix}hs-${letter}`;
  const hostId = `hs-${letter}`;
  const workloadBase = base + half;
  const vms: VmPlan[] = [];
  for (let v = 1; v <= vmCount; v++) {
    const name = `vm-${letter}${v}`;
    // Native addresses: the workload half without its network and broadcast addresses.
    const native = v <= half - 2 ? intToIp(workloadBase + v) : null;
    const agentless = index === o.clouds - 1 && v > o.vmsPerCloud - o.agentlessVms;
    vms.push({
      name,
      cloud: label,
      ns: `${o.prefix}${name}`,
      hostId,
      hyperswitchNs,
      nativeIp: native,
      nativeHostIf: `nat-${letter}${v}`,
      ...(agentless ? { agentless } : {}),
      ...(o.networks > 1 ? { network: (v - 1) % o.networks } : {}),
    });
  }
  return {
    index,
    label,
    subnet,
    transitCidr: `${intToIp(base)}/${len + 1}`,
    transitPrefixLen: len + 1,
    workloadCidr: `${intToIp(workloadBase)}/${len + 1}`,
    gatewayIp: intToIp(base + 1),
    underlayIp: intToIp(base + 2),
    hostId,
    hyperswitchNs,
    internetIf: `to-${letter}`,
    hyperswitchIf: 'ul0',
    agentNetnsPrefix: `${o.prefix}${letter}-`,
    agentStateDir: join(o.stateDir, 'agents', hostId),
    vms,
  };
}

/**
 * The vpc cloud on underlay `subnet`: its halves are the links of the active and the standby
 * hyperswitch (`hs-vpc1`, `hs-vpc2`); the VPC (10.20.0.0/16) exists only inside namespaces.
 */
function planVpc(o: LabOptions, subnet: string, vms: number): VpcPlan {
  const { network, prefix: len } = parseCidr(subnet);
  const half = 1 << (32 - len - 1);
  const label = 'vpc';
  return {
    label,
    routerNs: `${o.prefix}vpc`,
    vpcCidr: '10.20.0.0/16',
    subnetCidr: '10.20.2.0/24',
    hyperswitches: [1, 2].map((k) =>
      planCloud(o, `${intToIp(Number(network) + (k - 1) * half)}/${len + 1}`, o.clouds + k - 1, `vpc${k}`, label, 0),
    ),
    vms: Array.from({ length: vms }, (_, i) => ({
      name: `vm-vpc${i + 1}`,
      ns: `${o.prefix}vm-vpc${i + 1}`,
      mode: i % 2 === 0 ? 'instead' : 'in-addition',
    })),
    dir: join(o.stateDir, 'vpc'),
  };
}

/** `n` consecutive blocks the size of `first`, starting with it (10.0.1.0/24 → 10.0.2.0/24, …). */
export function tenantCidrs(first: string, n: number): string[] {
  const c = parseCidr(first);
  if (c.version !== 4) throw new Error(`the tenant CIDR must be IPv4, got ${first}`);
  const size = c.last - c.network + 1n;
  if (c.network + size * BigInt(n) - 1n > 0xffffffffn) throw new Error(`${n} networks do not fit after ${first}`);
  return Array.from({ length: n }, (_, i) => `${bigIntToIp(c.network + size * BigInt(i), 4)}/${c.prefix}`);
}

/** The lab's tenant networks (a lab.json written before `--networks` has only `hyperCidr`). */
export function tenantNetworks(plan: LabPlan): readonly TenantNetworkPlan[] {
  return plan.networks ?? [{ name: 'hyper-net', cidr: plan.hyperCidr }];
}

/** The lab tenant network holding `ip`, when the lab has several (a column of the VM tables); else null. */
export function networkOfIp(plan: LabPlan, ip: string): TenantNetworkPlan | null {
  const nets = tenantNetworks(plan);
  if (nets.length < 2) return null;
  return nets.find((n) => cidrContains(parseCidr(n.cidr), ip)) ?? null;
}

/** The Unix socket of each of the lab's servers: the first is `paths.socket`, then `server-N.sock`. */
export function serverSockets(plan: Pick<LabPlan, 'paths' | 'servers'>): string[] {
  return Array.from({ length: plan.servers ?? 1 }, (_, i) =>
    i === 0 ? plan.paths.socket : join(plan.paths.stateDir, `server-${i}.sock`),
  );
}

/** The API URL list every client of the lab (agents, CLI, tests) is given: all its servers. */
export function labServerUrl(plan: Pick<LabPlan, 'paths' | 'servers'>): string {
  return serverSockets(plan)
    .map((s) => `unix:${s}`)
    .join(',');
}

/** Whether the policy encrypts any pair of the clouds' hyperswitches (the tenant network spans them all). */
function encryptsAPair(p: EncryptionPolicy, clouds: readonly CloudPlan[]): boolean {
  return clouds.some((c, i) => clouds.slice(i + 1).some((d) => policyEncrypts(p, c.label, d.label)));
}

/** Every namespace name the plan itself creates (agents may add more under the same prefix). */
export function planNamespaces(plan: LabPlan): string[] {
  return [
    plan.internetNs,
    ...plan.clouds.map((c) => c.hyperswitchNs),
    ...plan.vms.map((v) => v.ns),
    ...(plan.vpc
      ? [plan.vpc.routerNs, ...plan.vpc.hyperswitches.map((h) => h.hyperswitchNs), ...plan.vpc.vms.map((v) => v.ns)]
      : []),
  ];
}
