/**
 * The agent's raw frame sender: one long-lived `hn-rawsend` child (rawsend.c, built next to this
 * module by `npm run build`) that puts whole Ethernet frames on an interface through an AF_PACKET
 * socket, which Node cannot open. It replaces one `arping` program per gratuitous ARP: on a busy
 * node a program start took ~70 ms, and 1,000 ports wired at once meant 2,000 of them.
 *
 * Protocol: a request line `<ifname> <frame hex>`, one answer line per request, in order (`ok` or
 * `error <message>`). Started on first use and again after it died (the requests it held fail).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where `npm run build` puts the helper (beside this module in dist/). */
export const RAWSEND_PATH = fileURLToPath(new URL('./hn-rawsend', import.meta.url));

interface Waiting {
  resolve: () => void;
  reject: (e: Error) => void;
}

export class FrameSender {
  private child: ChildProcessWithoutNullStreams | null = null;
  private buf = '';
  private waiting: Waiting[] = [];
  private closed = false;
  /** Children started (for tests and logs). */
  starts = 0;

  /** `argv`: the helper (and a prefix such as `ip netns exec NS` in tests). */
  constructor(private readonly argv: readonly string[] = [RAWSEND_PATH]) {}

  /** Whether the default helper was built (`npm run build`); else the caller falls back to arping. */
  static built(): boolean {
    return existsSync(RAWSEND_PATH);
  }

  /** Sends one frame (hex) out of `ifname`; rejects with the helper's error. */
  send(ifname: string, frameHex: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error('frame sender closed'));
    if (!/^[^\s/]{1,15}$/.test(ifname) || !/^([0-9a-f]{2})+$/.test(frameHex))
      return Promise.reject(new Error(`frame sender: bad request for ${ifname}`));
    const child = this.child ?? this.start();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      child.stdin.write(`${ifname} ${frameHex}\n`);
    });
  }

  close(): void {
    this.closed = true;
    this.child?.stdin.end();
    this.child = null;
  }

  private start(): ChildProcessWithoutNullStreams {
    const [cmd, ...args] = this.argv;
    const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.buf = '';
    this.starts++;
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (stderr += d));
    child.stdout.on('data', (d: string) => this.onData(d));
    child.stdin.on('error', () => undefined); // a dead child: reported by 'close'
    const gone = (why: string) => {
      if (this.child === child) this.child = null;
      const waiting = this.waiting;
      this.waiting = [];
      for (const w of waiting) w.reject(new Error(`${cmd} ended (${why}) ${stderr.trim()}`.trim()));
    };
    child.on('error', (e) => gone(e.message));
    child.on('close', (code, sig) => gone(String(code ?? sig)));
    return child;
  }

  private onData(d: string): void {
    this.buf += d;
    const lines = this.buf.split('\n');
    this.buf = lines.pop() ?? '';
    for (const l of lines) {
      const w = this.waiting.shift();
      if (!w) continue;
      if (l === 'ok') w.resolve();
      else w.reject(new Error(l.replace(/^error /, '')));
    }
  }
}
