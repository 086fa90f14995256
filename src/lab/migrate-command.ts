/**
 * `hypernet lab migrate VM --to CLOUD [--probe-from VM]`: moves a running lab VM's attachment to
 * another cloud's hyperswitch (src/lab/migrate.ts) and prints the blackout a 10 ms prober measured.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { realClock } from '../common/clock.js';
import { realExec } from '../common/exec.js';
import { DEFAULT_OPTIONS } from './plan.js';
import { migrateMeasured, pickProbe } from './migrate.js';
import { World } from './world.js';

async function migrate(vmName: string, o: { to: string; stateDir: string; probeFrom?: string }): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error('hypernet lab: needs root (network namespaces)');
    return 2;
  }
  const world = World.open(resolve(o.stateDir, 'lab.json'), { exec: realExec, clock: realClock });
  if (!world) {
    console.error(`no lab in ${resolve(o.stateDir)}`);
    return 1;
  }
  const vm = world.state.vms.find((v) => v.name === vmName);
  const to = world.plan.clouds.find((c) => c.label === o.to || c.label === `cloud-${o.to}` || c.hostId === o.to);
  const fail = (message: string): number => {
    console.error(message);
    return 1;
  };
  if (!vm) return fail(`unknown VM "${vmName}"; one of: ${world.state.vms.map((v) => v.name).join(', ')}`);
  if (!to) return fail(`unknown cloud "${o.to}"; one of: ${world.plan.clouds.map((c) => c.label).join(', ')}`);
  const probe = o.probeFrom ? world.state.vms.find((v) => v.name === o.probeFrom) : pickProbe(world.state.vms, vm, to);
  if (o.probeFrom && !probe) return fail(`unknown VM "${o.probeFrom}"`);
  const from = vm.cloud;
  const r = await migrateMeasured(world, vm, to, probe);
  console.log(
    `${vm.name} (${vm.ip}, ${vm.mac}) moved ${from} → ${to.label}: prepared in ${r.prepareMs} ms, switched in ${r.switchMs} ms`,
  );
  if (r.probe) {
    const lost = r.probe.sent - r.probe.received;
    console.log(
      `blackout seen from ${r.probe.from} (ping every 10 ms): ${r.probe.blackoutMs} ms without replies, ${lost} of ${r.probe.sent} probes lost`,
    );
  }
  return 0;
}

export function registerMigrate(lab: Command): void {
  lab
    .command('migrate <vm>')
    .description(
      'live-migrate a lab VM to another cloud (port bindings: prepare, cutover, activate); prints the blackout',
    )
    .requiredOption('--to <cloud>', 'target cloud: cloud-b, b or its hyperswitch hs-b')
    .option('--probe-from <vm>', 'VM that pings the moving one every 10 ms (default: one in a third cloud)')
    .option('--state-dir <dir>', 'the lab state directory', DEFAULT_OPTIONS.stateDir)
    .action(async (vm: string, o) => {
      process.exitCode = await migrate(vm, o);
    });
}
