/**
 * Hand-built Ethernet frames for firewall tests, and a probe that says whether one crossed a filter:
 * the frame is sent raw from a namespace (native/rawsend.c, which needs no root tool) while tcpdump
 * watches the device behind the filter. Lets a test check what no socket can send: a foreign source
 * MAC, an ARP sender, DHCP from 0.0.0.0, neighbour discovery from ::, a router advertisement.
 * The IPv4 header and ICMPv6 checksums are set (a bridge drops a frame with a wrong one: br_netfilter
 * checks the IPv4 header, multicast snooping MLD); UDP and ICMP sums are left 0: nothing answers.
 */
import { spawn } from 'node:child_process';
import ipaddr from 'ipaddr.js';
import { FrameSender, RAWSEND_PATH } from '../src/agent/native/frame-sender.js';

const mac = (m: string) => Buffer.from(m.replaceAll(':', ''), 'hex');
const ip = (a: string) => Buffer.from(ipaddr.parse(a).toByteArray());
const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);

export const BROADCAST = 'ff:ff:ff:ff:ff:ff';

export function ethernet(dst: string, src: string, type: number, payload: Buffer): Buffer {
  return Buffer.concat([mac(dst), mac(src), u16(type), payload]);
}

export function ipv4(src: string, dst: string, proto: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h[8] = 64;
  h[9] = proto;
  ip(src).copy(h, 12);
  ip(dst).copy(h, 16);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, payload]);
}

/** The Internet checksum of `parts`. */
function checksum(...parts: Buffer[]): number {
  const b = Buffer.concat(parts);
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) + (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

/** An IPv6 packet; an ICMPv6 payload (right after the header or after one hop-by-hop header) gets its checksum. */
export function ipv6(src: string, dst: string, next: number, payload: Buffer): Buffer {
  const at = next === 58 ? 0 : next === 0 && payload[0] === 58 ? (payload[1]! + 1) * 8 : -1;
  if (at >= 0) {
    payload = Buffer.from(payload);
    const msg = payload.subarray(at);
    const pseudo = Buffer.alloc(8);
    pseudo.writeUInt32BE(msg.length, 0);
    pseudo[7] = 58;
    msg.writeUInt16BE(0, 2);
    msg.writeUInt16BE(checksum(ip(src), ip(dst), pseudo, msg), 2);
  }
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = next;
  h[7] = 255;
  ip(src).copy(h, 8);
  ip(dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

export function udp(sport: number, dport: number, data: Buffer = Buffer.from('hnprobe')): Buffer {
  return Buffer.concat([u16(sport), u16(dport), u16(8 + data.length), u16(0), data]);
}

/** An ICMP or ICMPv6 message: type, code, then `body` (4 bytes of zeros first). */
export function icmp(type: number, code: number, body: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([type, code, 0, 0, 0, 0, 0, 0]), body]);
}

/** An IPv4-over-Ethernet ARP message (op 1 request, 2 reply). */
export function arp(op: 1 | 2, sha: string, spa: string, tha: string, tpa: string): Buffer {
  return Buffer.concat([u16(1), u16(0x0800), Buffer.from([6, 4]), u16(op), mac(sha), ip(spa), mac(tha), ip(tpa)]);
}

/**
 * Starts tcpdump in namespace `ns` (`args` after `tcpdump -l -n`, bounded by `seconds`) and resolves once
 * it listens; `output` then resolves with what it printed when it ends. If it ends first, says why.
 */
export async function startCapture(
  ns: string,
  seconds: number,
  args: readonly string[],
): Promise<{ output: Promise<string> }> {
  const td = spawn('ip', ['netns', 'exec', ns, 'timeout', String(seconds), 'tcpdump', '-l', '-n', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  td.stdout.on('data', (d) => (out += d));
  const closed = new Promise<string>((resolve) => td.on('close', () => resolve(out)));
  await new Promise<void>((resolve, reject) => {
    td.stderr.on('data', (d) => {
      err += d;
      if (err.includes('listening on')) resolve();
    });
    void closed.then(() => reject(new Error(`tcpdump ended before listening: ${err.trim()}`)));
  });
  return { output: closed };
}

/**
 * Whether `frame`, sent from `device` in namespace `fromNs`, shows up on `watchDev` in `watchNs` within
 * about a second (tcpdump with `filter`, which should match only this frame).
 */
export async function frameCrosses(
  fromNs: string,
  device: string,
  frame: Buffer,
  watchNs: string,
  watchDev: string,
  filter: string,
): Promise<boolean> {
  const td = await startCapture(watchNs, 2, ['-i', watchDev, '-c', '1', filter]);
  const sender = new FrameSender(['ip', 'netns', 'exec', fromNs, RAWSEND_PATH]);
  try {
    await sender.send(device, frame.toString('hex'));
  } finally {
    sender.close();
  }
  return (await td.output).trim().length > 0;
}
