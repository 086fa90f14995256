/**
 * A minimal client for OpenVPN's management interface on a Unix socket: send one command, read its
 * reply (up to `END`, `SUCCESS:` or `ERROR:`, skipping `>` notifications). Used to list the connected
 * client of a port's server and to drop it at once (`kill CN`) when its certificate is revoked.
 */
import { connect } from 'node:net';

export async function managementCommand(socketPath: string, command: string, timeoutMs = 3000): Promise<string[]> {
  if (/[\r\n]/.test(command)) throw new Error('management command must be one line');
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    let sent = false;
    const lines: string[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`openvpn management ${socketPath}: no reply to '${command}' in ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      sock.end();
      if (err) reject(err);
      else resolve(lines);
    };
    sock.on('error', (e) => finish(e));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        if (line.startsWith('>')) {
          // The greeting (>INFO:…) says the interface is ready; other notifications are ignored.
          if (!sent) {
            sent = true;
            sock.write(`${command}\n`);
          }
          continue;
        }
        lines.push(line);
        if (line === 'END' || line.startsWith('SUCCESS:') || line.startsWith('ERROR:')) return finish();
      }
    });
  });
}

/** A connected client as `status 2` reports it. */
export interface VpnClient {
  commonName: string;
  /** The client's real address, `IP:PORT`. */
  realAddress: string;
  /** Management client id (for `client-kill`). */
  clientId: string;
}

/** Parses the CLIENT_LIST rows of `status 2`, by the column names of its HEADER row. */
export function parseStatus(lines: readonly string[]): VpnClient[] {
  const header =
    lines
      .find((l) => l.startsWith('HEADER,CLIENT_LIST,'))
      ?.split(',')
      .slice(1) ?? [];
  const col = (name: string, fallback: number) => (header.indexOf(name) >= 0 ? header.indexOf(name) : fallback);
  const [cn, real, cid] = [col('Common Name', 1), col('Real Address', 2), col('Client ID', 10)];
  return lines
    .filter((l) => l.startsWith('CLIENT_LIST,'))
    .map((l) => l.split(','))
    .map((f) => ({ commonName: f[cn] ?? '', realAddress: f[real] ?? '', clientId: f[cid] ?? '' }));
}
