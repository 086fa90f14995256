/**
 * `hypernet lab up|status|exec|down`: the CLI over the world builder. `up` builds the lab, prints
 * progress, the VM table and a cross-cloud ping matrix, and returns with the daemons running detached;
 * `down` removes everything the lab made (also after a crash).
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { realClock } from '../common/clock.js';
import { realExec } from '../common/exec.js';
import { DEFAULT_OPTIONS, type LabFirewall, type LabPlan, MAX_CUSTOM_ROUTE_VMS, planLab } from './plan.js';
import { setUpLabRouter } from './router.js';
import { labL3Lines } from './status.js';
import { isOurs, pidFile, readPidFile } from './processes.js';
import {
  countFailures,
  hyperVmTable,
  openstackHint,
  pingMatrixTable,
  stepLine,
  vmTable,
  vpcVmTable,
} from './report.js';
import { readState } from './state.js';
import { keystoneHint } from './keystone-lab.js';
import { registerMigrate } from './migrate-command.js';
import { labStatus, renderStatus } from './status.js';
import { downLab, World } from './world.js';
import { inContainer } from './hypervms.js';
import { startRepositoryRelay } from './repository-relay.js';
import { runVpcEndpoint } from './vpc-endpoint.js';
import { createLogger } from '../common/log.js';

const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`not an integer: ${v}`);
  return n;
};

/** `--custom-route-vms`: an integer 0…MAX_CUSTOM_ROUTE_VMS (planLab checks it again). */
const customRouteVms = (v: string): number => {
  const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n > MAX_CUSTOM_ROUTE_VMS)
    throw new InvalidArgumentError(`custom-route VMs must be an integer 0…${MAX_CUSTOM_ROUTE_VMS}, got "${v}"`);
  return n;
};

function needRoot(): void {
  if (process.getuid?.() !== 0) {
    console.error('hypernet lab: needs root (network namespaces)');
    process.exit(2);
  }
}

/** A free TCP port on loopback (for `--api-port 0`). */
function freePort(host: string): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** True when the lab recorded in `stateDir` still has its server running. */
function labRunning(stateDir: string): boolean {
  const state = readState(resolve(stateDir, 'lab.json'));
  if (!state) return false;
  const pid = readPidFile(pidFile(state.plan.paths.pidDir, 'server'));
  return !!pid && isOurs(pid, state.plan.paths.marker);
}

async function up(o: {
  stateDir: string;
  prefix: string;
  clouds: number;
  vmsPerCloud: number;
  apiPort: number;
  underlayMtu: number;
  agentlessVms: number;
  keystone?: boolean;
  router?: boolean;
  hypervms: number;
  networks: number;
  firewall?: LabFirewall;
  customRouteVms: number;
}): Promise<number> {
  needRoot();
  // Without the router the subnets cannot reach each other and the ping matrix would fail by design.
  if (o.networks > 1 && o.router === false) {
    console.error('hypernet lab: --networks needs the router (drop --no-router)');
    return 2;
  }
  const stateDir = resolve(o.stateDir);
  const deps = { exec: realExec, clock: realClock };
  if (labRunning(stateDir)) {
    console.log(
      `lab already up (state dir ${stateDir}); see \`hypernet lab status --state-dir ${stateDir}\`, or \`hypernet lab down --state-dir ${stateDir}\` first`,
    );
    return 1;
  }
  const stale = readState(resolve(stateDir, 'lab.json'));
  if (stale) {
    console.log(`found the remains of a lab that is no longer running in ${stateDir}; cleaning them up first`);
    await downLab(stateDir, stale.plan.prefix, deps, true);
  }
  const apiPort = o.apiPort === 0 ? await freePort(DEFAULT_OPTIONS.apiHost) : o.apiPort;
  let plan: LabPlan;
  try {
    plan = planLab({
      stateDir,
      prefix: o.prefix,
      clouds: o.clouds,
      vmsPerCloud: o.vmsPerCloud,
      apiPort,
      underlayMtu: o.underlayMtu,
      agentlessVms: o.agentlessVms,
      keystone: !!o.keystone,
      hypervms: o.hypervms,
      networks: o.networks,
      firewall: o.firewall,
      customRouteVms: o.customRouteVms,
    });
  } catch (e) {
    console.error(`hypernet lab: ${(e as Error).message}`);
    return 2;
  }
  const t0 = realClock.now();
  console.log(
    `building the lab: ${plan.clouds.length} clouds${plan.vpc ? ' and a vpc cloud' : ''}, ${plan.vms.length + (plan.vpc?.vms.length ?? 0)} VMs, prefix ${plan.prefix}, state ${stateDir}`,
  );
  const world = new World(plan, {
    ...deps,
    onStep: (step, ms) => console.log(stepLine(step, ms, realClock.now() - t0)),
  });
  try {
    await world.up();
  } catch (e) {
    console.error(`\nlab up failed: ${(e as Error).message}`);
    console.error(`logs are in ${plan.paths.logDir}; clean up with: hypernet lab down --state-dir ${stateDir}`);
    return 1;
  }
  if (o.router !== false) {
    try {
      const l3 = await world.step('router: its subnets, an external network and gateway per cloud, a floating IP', () =>
        setUpLabRouter(world.api, world.exec, world.state),
      );
      world.save();
      console.log(labL3Lines(l3).join('\n'));
    } catch (e) {
      console.error(`lab router failed: ${(e as Error).message}`);
      return 1;
    }
  }
  const vms = world.state.vms.slice().sort((a, b) => a.name.localeCompare(b.name));
  // HyperVMs ping from inside their containers, beside the VMs.
  const hvs = (world.state.hypervms ?? []).map((h) => ({ name: h.name, ns: h.ns, ip: h.ip, inner: inContainer(h) }));
  // The vpc cloud's VMs ping from their namespaces, by hyper IP like the others.
  const vpcVms = world.state.vpc?.vms ?? [];
  const sources = [...vms, ...hvs, ...vpcVms];
  const matrix = await world.step('ping matrix (every VM to every other)', () => world.pingMatrix(sources));
  console.log(`\n${vmTable(plan, vms)}\n`);
  if (hvs.length) console.log(`${hyperVmTable(world.state.hypervms ?? [])}\n`);
  if (vpcVms.length) console.log(`${vpcVmTable(world.state.vpc!)}\n`);
  const failures = countFailures(matrix);
  console.log(`ping matrix (${failures === 0 ? 'all reachable' : `${failures} FAILED`}):`);
  console.log(
    pingMatrixTable(
      sources.map((v) => v.name),
      matrix,
    ),
  );
  console.log(
    `\nlab up in ${((realClock.now() - t0) / 1000).toFixed(1)} s; daemons run in the background (pids in ${plan.paths.pidDir}, logs in ${plan.paths.logDir}).`,
  );
  console.log(
    `API for the openstack CLI:\n  ${plan.keystone ? keystoneHint(plan) : openstackHint(world.state.apiUrl)}`,
  );
  console.log(
    `try: hypernet lab exec ${vms[0]?.name ?? 'vm-a1'} -- ping -c 3 ${vms[vms.length - 1]?.ip ?? '10.0.1.x'}   ·   hypernet lab status   ·   hypernet lab down`,
  );
  return failures === 0 ? 0 : 1;
}

async function status(o: { stateDir: string }): Promise<number> {
  needRoot();
  const state = readState(resolve(o.stateDir, 'lab.json'));
  if (!state) {
    console.log(`no lab in ${resolve(o.stateDir)}`);
    return 1;
  }
  const s = await labStatus(state, realExec);
  console.log(renderStatus(s));
  return s.healthy ? 0 : 1;
}

function execIn(vm: string, cmd: string[], o: { stateDir: string }): number {
  needRoot();
  const state = readState(resolve(o.stateDir, 'lab.json'));
  if (!state) {
    console.error(`no lab in ${resolve(o.stateDir)}`);
    return 1;
  }
  const { plan } = state;
  const known = new Map<string, string>([
    ['inet', plan.internetNs],
    ['internet', plan.internetNs],
    ...plan.vms.map((v) => [v.name, v.ns] as [string, string]),
    ...plan.clouds.map((c) => [c.hostId, c.hyperswitchNs] as [string, string]),
    ...(plan.vpc
      ? [
          ['vpc', plan.vpc.routerNs] as [string, string],
          ...plan.vpc.hyperswitches.map((c) => [c.hostId, c.hyperswitchNs] as [string, string]),
          ...plan.vpc.vms.map((v) => [v.name, v.ns] as [string, string]),
        ]
      : []),
  ]);
  const ns = known.get(vm) ?? (vm.startsWith(plan.prefix) ? vm : undefined);
  if (!ns) {
    console.error(`unknown VM "${vm}"; one of: ${[...known.keys()].join(', ')}`);
    return 1;
  }
  if (cmd.length === 0) cmd = ['bash'];
  const r = spawnSync('ip', ['netns', 'exec', ns, ...cmd], { stdio: 'inherit' });
  return r.status ?? 1;
}

async function down(o: { stateDir: string; prefix?: string }): Promise<number> {
  needRoot();
  const stateDir = resolve(o.stateDir);
  const state = readState(resolve(stateDir, 'lab.json'));
  const prefix = o.prefix ?? state?.plan.prefix ?? DEFAULT_OPTIONS.prefix;
  const r = await downLab(stateDir, prefix, { exec: realExec, clock: realClock });
  const stopped = [...r.processes].map(([n, how]) => `${n}: ${how}`);
  console.log(
    `lab down: processes ${stopped.length ? stopped.join(', ') : 'none'}; namespaces removed: ${r.namespaces.length ? r.namespaces.join(', ') : 'none'}`,
  );
  return 0;
}

export function register(program: Command): void {
  const lab = program.command('lab').description('a multi-cloud world on this machine, in network namespaces (root)');
  const stateOpt = ['--state-dir <dir>', 'the lab state directory', DEFAULT_OPTIONS.stateDir] as const;
  lab
    .command('up')
    .description('build the lab: server, clouds, hyperswitches with agents, a tenant network, VMs with DHCP')
    .option(...stateOpt)
    .option('--prefix <prefix>', 'prefix of every namespace the lab makes', DEFAULT_OPTIONS.prefix)
    .option('--clouds <n>', 'number of clouds', int, DEFAULT_OPTIONS.clouds)
    .option('--vms-per-cloud <n>', 'VMs in each cloud', int, DEFAULT_OPTIONS.vmsPerCloud)
    .option('--api-port <port>', 'TCP port of the API on 127.0.0.1 (0 = a free one)', int, DEFAULT_OPTIONS.apiPort)
    .option('--underlay-mtu <mtu>', 'MTU of the clouds underlay links', int, DEFAULT_OPTIONS.underlayMtu)
    .option(
      '--agentless-vms <n>',
      'VMs of the last cloud with no agent, only the stock OpenVPN client (agentless mode)',
      int,
      DEFAULT_OPTIONS.agentlessVms,
    )
    .option('--agentless', 'same as --agentless-vms 1')
    .option('--keystone', 'a private Keystone in front of the API, and a clouds.yaml for the openstack CLI')
    .option('--hypervms <n>', "HyperVMs (LXC containers on the clouds' agents) spread over the clouds", int, 0)
    .option(
      '--networks <n>',
      'tenant subnets behind the router (10.0.1.0/24, 10.0.2.0/24, …)',
      int,
      DEFAULT_OPTIONS.networks,
    )
    .option('--no-router', 'no router, external networks, floating IP or external host')
    .option('--firewall <mode>', "the agents' security groups: nftables or tc-bpf", 'nftables')
    .option(
      '--custom-route-vms <n>',
      `VMs of a "vpc" cloud (lab EC2 endpoint) behind a custom-route hyperswitch, 0…${MAX_CUSTOM_ROUTE_VMS}`,
      customRouteVms,
      0,
    )
    .action(async (o) => {
      if (o.agentless && !o.agentlessVms) o.agentlessVms = 1;
      process.exitCode = await up(o);
    });
  lab
    .command('status')
    .description('processes, namespaces, VM addresses and agent liveness of the running lab')
    .option(...stateOpt)
    .action(async (o) => {
      process.exitCode = await status(o);
    });
  lab
    .command('exec <vm> [cmd...]')
    .description('run a command inside a lab VM (or hs-a…, inet): hypernet lab exec vm-a1 -- ping -c 3 10.0.1.5')
    .option(...stateOpt)
    .action((vm: string, cmd: string[], o) => {
      process.exitCode = execIn(vm, cmd, o);
    });
  registerMigrate(lab);
  // Internal: the daemon `lab up --hypervms` starts in the internet namespace (repository-relay.ts).
  lab
    .command('repository-relay', { hidden: true })
    .requiredOption('--socket <path>', "the server's Unix socket")
    .action(async (o: { socket: string }) => {
      await startRepositoryRelay(o.socket);
    });
  // Internal: the vpc cloud's EC2 endpoint daemon `lab up --custom-route-vms` starts (vpc-endpoint.ts).
  lab
    .command('vpc-endpoint', { hidden: true })
    .requiredOption('--lab <file>', "the lab's lab.json")
    .action(async (o: { lab: string }) => {
      await runVpcEndpoint(resolve(o.lab), {
        exec: realExec,
        clock: realClock,
        log: createLogger('vpc-endpoint'),
      });
    });
  lab
    .command('down')
    .description('remove every namespace, process and file the lab made (idempotent, works after a crash)')
    .option(...stateOpt)
    .option('--prefix <prefix>', 'namespace prefix to sweep (default: the recorded one, else hnlab-)')
    .action(async (o) => {
      process.exitCode = await down(o);
    });
}
