/**
 * Runs pinned tc-BPF programs on frames without a wire (`hn-bpf-run`, bpf-run.c, built beside this
 * module by `npm run build`), and builds the IPv4 frames the tc-BPF equivalence test feeds them.
 * The helper runs inside the namespace whose devices the hops' ifindexes name.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ipaddr from 'ipaddr.js';
import { inNetnsKeepMounts, type Exec } from '../../src/common/exec.js';
import type { Frame } from '../nft-eval.js';

export const BPF_RUN_PATH = fileURLToPath(new URL('./hn-bpf-run', import.meta.url));
export const bpfRunBuilt = (): boolean => existsSync(BPF_RUN_PATH);

/** A program run at a device: `prog` pinned, `ifindex` the skb's device. */
export interface Hop {
  prog: string;
  ifindex: number;
}

/** Empties a pinned map, or runs a frame through hops in order until one does not return TC_ACT_OK. */
export type BpfRequest = { clear: string } | { hops: readonly Hop[]; frame: Buffer };

/**
 * Runs `reqs` in order in one helper process in namespace `ns`: per request the return values of
 * the hops it ran (empty for a clear). Throws on the helper's first error.
 */
export async function bpfRun(exec: Exec, ns: string, reqs: readonly BpfRequest[]): Promise<number[][]> {
  const lines = reqs.map((r) =>
    'clear' in r
      ? `clear ${r.clear}`
      : `run ${r.hops.map((h) => `${h.prog}:${h.ifindex}`).join(' ')} ${r.frame.toString('hex')}`,
  );
  const r = await inNetnsKeepMounts(exec, ns)(BPF_RUN_PATH, [], { input: `${lines.join('\n')}\n` });
  const out = r.stdout.replace(/\n$/, '').split('\n');
  if (out.length !== lines.length) throw new Error(`hn-bpf-run: ${out.length} answers to ${lines.length} requests`);
  return out.map((l, i) => {
    if (l.startsWith('err ')) throw new Error(`hn-bpf-run: ${l.slice(4)} (request: ${lines[i]!.slice(0, 120)})`);
    return l.startsWith('ok') || l === '' ? [] : l.split(' ').map(Number);
  });
}

/** An IPv4 frame's fields as nft-eval's Frame has them (icmp: sport is the echo identifier). */
export type Ipv4FrameSpec = Pick<Frame, 'smac' | 'dmac' | 'saddr' | 'daddr' | 'proto' | 'sport' | 'dport'> & {
  icmpCode?: number;
};

const mac = (m: string) => Buffer.from(m.split(':').map((x) => Number.parseInt(x, 16)));

/** The frame's bytes (Ethernet, IPv4 without options, 16 bytes of transport header: the programs read 8). */
export function ipv4Frame(f: Ipv4FrameSpec): Buffer {
  const b = Buffer.alloc(14 + 20 + 16);
  mac(f.dmac).copy(b, 0);
  mac(f.smac).copy(b, 6);
  b.writeUInt16BE(0x0800, 12);
  b.writeUInt8(0x45, 14);
  b.writeUInt16BE(b.length - 14, 16);
  b.writeUInt8(64, 22);
  b.writeUInt8(f.proto, 23);
  Buffer.from(ipaddr.IPv4.parse(f.saddr).toByteArray()).copy(b, 26);
  Buffer.from(ipaddr.IPv4.parse(f.daddr).toByteArray()).copy(b, 30);
  if (f.proto === 1) {
    b.writeUInt8(f.dport, 34);
    b.writeUInt8(f.icmpCode ?? 0, 35);
    b.writeUInt16BE(f.sport, 38);
  } else {
    b.writeUInt16BE(f.sport, 34);
    b.writeUInt16BE(f.dport, 36);
    if (f.proto === 17) b.writeUInt16BE(16, 38);
  }
  return b;
}
