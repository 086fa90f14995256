/**
 * A throwaway node for firewall tests and the benchmark: a node namespace with bridge `hnb-1001`
 * and workload namespaces plugged in by veth `tap…` (static IP and MAC inside). Namespaces carry a
 * per-run prefix; stale ones from crashed runs are swept first. Nothing touches the root namespace.
 * Also small traffic probes (ping, TCP/UDP echo via node) bounded in count and time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { realExec, inNetns, type Exec } from '../src/common/exec.js';
import { alive, listNetns } from './runs.js';

export const PREFIX_ROOT = 'hnfw';

/** Removes namespaces `hnfw<pid>-…` whose pid is gone. */
export async function sweepStale(): Promise<void> {
  for (const name of await listNetns()) {
    const m = new RegExp(`^${PREFIX_ROOT}(\\d+)-`).exec(name);
    if (!m) continue;
    if (!alive(Number(m[1])) || Number(m[1]) === process.pid)
      await realExec('ip', ['netns', 'del', name], { allowFail: true });
  }
}

export interface Workload {
  ns: string;
  tap: string;
  mac: string;
  ip: string;
  exec: Exec;
}

export class NodeEnv {
  readonly nodeNs: string;
  readonly node: Exec;
  readonly workloads: Workload[] = [];
  private children: ChildProcess[] = [];

  /** `prefix`: of every namespace made here (default `hnfw<pid>-`, which sweepStale knows). */
  constructor(readonly prefix = `${PREFIX_ROOT}${process.pid}-`) {
    this.nodeNs = `${prefix}node`;
    this.node = inNetns(realExec, this.nodeNs);
  }

  async create(bridges: readonly string[] = ['hnb-1001']): Promise<void> {
    await realExec('ip', ['netns', 'add', this.nodeNs]);
    await this.node('ip', ['link', 'set', 'lo', 'up']);
    for (const b of bridges) {
      await this.node('ip', ['link', 'add', b, 'type', 'bridge']);
      await this.node('ip', ['link', 'set', b, 'up']);
    }
  }

  /** Adds a workload namespace `w<i>` plugged into `bridge` by `tap`. */
  async addWorkload(i: number, tap: string, mac: string, ip: string, bridge = 'hnb-1001'): Promise<Workload> {
    const ns = `${this.prefix}w${i}`;
    await realExec('ip', ['netns', 'add', ns]);
    const exec = inNetns(realExec, ns);
    await this.node('ip', ['link', 'add', tap, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await this.node('ip', ['link', 'set', tap, 'master', bridge, 'up']);
    await exec('ip', ['link', 'set', 'lo', 'up']);
    await exec('ip', ['link', 'set', 'eth0', 'address', mac, 'up']);
    await exec('ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    const w = { ns, tap, mac, ip, exec };
    this.workloads.push(w);
    return w;
  }

  /** Starts a process inside `ns` (killed by pid in destroy()). */
  spawnIn(ns: string, cmd: string, args: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.push(child);
    return child;
  }

  async destroy(): Promise<void> {
    for (const c of this.children) if (c.pid && c.exitCode === null) c.kill('SIGKILL');
    for (const w of this.workloads) await realExec('ip', ['netns', 'del', w.ns], { allowFail: true });
    await realExec('ip', ['netns', 'del', this.nodeNs], { allowFail: true });
  }
}

/** TCP + UDP echo servers on `ports` (node, in the workload namespace); resolves once listening. */
export async function startEcho(env: NodeEnv, ns: string, ports: number[]): Promise<ChildProcess> {
  const code = `
const net=require('net'),dgram=require('dgram');let n=0;const ports=${JSON.stringify(ports)};
for(const p of ports){net.createServer(s=>{s.on('data',d=>s.write(d));s.on('error',()=>{})}).listen(p,()=>{if(++n===ports.length*2)console.log('ready')});
const u=dgram.createSocket('udp4');u.on('message',(m,r)=>u.send(m,r.port,r.address));u.bind(p,()=>{if(++n===ports.length*2)console.log('ready')});}`;
  const child = env.spawnIn(ns, process.execPath, ['-e', code]);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
    child.on('exit', (c) => reject(new Error(`echo server exited ${c}`)));
  });
  return child;
}

/**
 * One request/reply over TCP or UDP from `w` to ip:port within 1 s: true when the echo came back.
 * `srcPort` (UDP) fixes the source port, to send on a given conntrack tuple; `size` (UDP) sends a
 * datagram of that many bytes (above the MTU it leaves, and echoes back, in fragments).
 */
export async function echoOnce(
  w: Workload,
  proto: 'tcp' | 'udp',
  ip: string,
  port: number,
  srcPort = 0,
  size = 2,
): Promise<boolean> {
  const code = `
const [proto,ip,port,src,size]=process.argv.slice(1);const done=ok=>{process.stdout.write(ok?'ok':'no');process.exit(0)};setTimeout(()=>done(false),1000);
if(proto==='tcp'){const s=require('net').connect(+port,ip,()=>s.write('hi'));s.on('data',()=>done(true));s.on('error',()=>done(false))}
else{const u=require('dgram').createSocket('udp4');u.on('message',m=>done(m.length===+size));u.bind(+src,()=>u.send(Buffer.alloc(+size,104),+port,ip))}`;
  const r = await w.exec(process.execPath, ['-e', code, proto, ip, String(port), String(srcPort), String(size)], {
    timeoutMs: 5000,
    allowFail: true,
  });
  return r.stdout === 'ok';
}

/** A TCP session (nc, 10 s idle bound) from namespace `ns`: `exchange` sends a line and says whether the echo came back within 1 s. */
export function tcpSession(
  env: NodeEnv,
  ns: string,
  ip: string,
  port: number,
): { exchange: (msg: string) => Promise<boolean>; close: () => void } {
  const nc = env.spawnIn(ns, 'nc', ['-w', '10', ip, String(port)]);
  let got = '';
  nc.stdout!.on('data', (d) => (got += String(d)));
  return {
    async exchange(msg: string) {
      nc.stdin!.write(`${msg}\n`);
      for (let i = 0; i < 20 && !got.includes(msg); i++) await new Promise((r) => setTimeout(r, 50));
      return got.includes(msg);
    },
    close: () => void nc.kill('SIGKILL'),
  };
}

/** One ping (1 s bound), optionally from a given source address. */
/** One ping from `w` to `ip` (from address `from`; `size` payload bytes, above the MTU in fragments). */
export async function pingOnce(w: Workload, ip: string, from?: string, size?: number): Promise<boolean> {
  const args = ['-c', '1', '-W', '1', ...(from ? ['-I', from] : []), ...(size ? ['-s', String(size)] : []), ip];
  return (await w.exec('ping', args, { allowFail: true, timeoutMs: 5000 })).code === 0;
}

/** Sum of counter packets over the rules of `chain` in `family hypernet`-like tables. */
export async function chainDrops(exec: Exec, family: string, table: string, chain: string): Promise<number> {
  const r = await exec('nft', ['-j', 'list', 'chain', family, table, chain]);
  const items = (
    JSON.parse(r.stdout) as { nftables: Array<{ rule?: { expr: Array<Record<string, { packets?: number }>> } }> }
  ).nftables;
  let sum = 0;
  for (const i of items) for (const e of i.rule?.expr ?? []) if (e.counter) sum += e.counter.packets ?? 0;
  return sum;
}
