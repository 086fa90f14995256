/**
 * The executable of one network's metadata proxy (ns-proxy.ts), started by the driver with
 * `ip netns exec NS node ns-proxy-main.js --network=… --socket=… --pid-file=… --log-file=…`. It
 * detaches (a child with `--foreground` keeps running, its output in the log file, so it outlives an
 * agent restart like dnsmasq) and the child writes its PID once it listens: a PID file names a
 * proxy that serves.
 */
import { spawn } from 'node:child_process';
import { openSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startNsProxy } from './ns-proxy.js';
import { METADATA_IP, METADATA_PORT } from './types.js';

/** This file's compiled path, for the driver's command line. */
export const NS_PROXY_SCRIPT = fileURLToPath(import.meta.url);

/** The proxy's arguments as the driver gives them (and finds them again in /proc/PID/cmdline). */
export function nsProxyArgs(networkId: string, socket: string, pidFile: string, logFile: string): string[] {
  return [`--network=${networkId}`, `--socket=${socket}`, `--pid-file=${pidFile}`, `--log-file=${logFile}`];
}

function option(name: string): string {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (!arg) throw new Error(`--${name}= is required`);
  return arg.slice(name.length + 3);
}

async function main(): Promise<void> {
  const pidFile = option('pid-file');
  if (!process.argv.includes('--foreground')) {
    const log = openSync(option('log-file'), 'a');
    const args = [...process.argv.slice(1), '--foreground'];
    spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] }).unref();
    return;
  }
  await startNsProxy({
    networkId: option('network'),
    socket: option('socket'),
    host: METADATA_IP,
    port: METADATA_PORT,
  });
  writeFileSync(pidFile, `${process.pid}\n`);
  process.stdout.write(`metadata proxy for ${option('network')} listening on ${METADATA_IP}:${METADATA_PORT}\n`);
}

if (process.argv[1] === NS_PROXY_SCRIPT) {
  main().catch((e: Error) => {
    process.stderr.write(`metadata proxy: ${e.message}\n`);
    process.exit(1);
  });
}
