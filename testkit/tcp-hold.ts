/**
 * A small TCP client/server that holds many connections at once, for the SNAT benchmark (run inside
 * namespaces with `node dist/testkit/tcp-hold.js`):
 *  - `server PORT`: accepts and echoes every connection, prints `listening`, runs until killed;
 *  - `client HOST PORT COUNT HOLD_MS`: opens COUNT connections (a bounded number connecting at once,
 *    so the listen backlog is never what fails), holds them all HOLD_MS, then sends one line on each
 *    and waits for its echo. Prints one JSON line: {@link HoldResult}.
 * A connection counts as held only if it opened, was never closed or reset during the hold, and
 * echoed its line afterwards: a connection the SNAT (or conntrack) dropped fails one of the three.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface HoldResult {
  wanted: number;
  opened: number;
  /** Connections closed or reset before the echo round. */
  lost: number;
  /** Connections that echoed their line after the hold. */
  echoed: number;
  /** The first few error messages, for the report. */
  errors: string[];
}

const IN_FLIGHT = 256;
const ECHO_TIMEOUT_MS = 15_000;

function serve(port: number): void {
  const server = createServer((s) => {
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  server.listen({ port, host: '0.0.0.0', backlog: 4096 }, () => console.log('listening'));
  process.on('SIGTERM', () => process.exit(0));
}

async function hold(host: string, port: number, count: number, holdMs: number): Promise<HoldResult> {
  const r: HoldResult = { wanted: count, opened: 0, lost: 0, echoed: 0, errors: [] };
  const note = (m: string) => r.errors.length < 5 && r.errors.push(m);
  const open: Socket[] = [];
  const gone = new WeakSet<Socket>();
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const s = connect({ host, port });
      s.setNoDelay(true);
      s.once('connect', () => {
        r.opened++;
        open.push(s);
        resolve();
      });
      s.on('error', (e) => {
        note(e.message);
        resolve();
      });
      s.on('close', () => gone.add(s));
    });
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  await new Promise((res) => setTimeout(res, holdMs));
  const alive = open.filter((s) => !gone.has(s));
  r.lost = open.length - alive.length;
  await Promise.all(
    alive.map(
      (s, i) =>
        new Promise<void>((resolve) => {
          const line = `held ${i}\n`;
          let got = '';
          const timer = setTimeout(() => {
            note(`connection ${i}: no echo in ${ECHO_TIMEOUT_MS} ms`);
            resolve();
          }, ECHO_TIMEOUT_MS);
          s.on('data', (d) => {
            got += d.toString();
            if (got === line) {
              r.echoed++;
              clearTimeout(timer);
              resolve();
            }
          });
          s.write(line);
        }),
    ),
  );
  for (const s of open) s.destroy();
  return r;
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'server') serve(Number(args[0]));
else if (mode === 'client') {
  const [host, port, count, holdMs] = args as [string, string, string, string];
  hold(host, Number(port), Number(count), Number(holdMs)).then((r) => console.log(JSON.stringify(r)));
} else {
  console.error('usage: tcp-hold server PORT | client HOST PORT COUNT HOLD_MS');
  process.exit(2);
}
