/**
 * `node dist/testkit/udp-probe.js HOST PORT INTERVAL_MS`: one UDP datagram every INTERVAL_MS, each
 * from a fresh socket (a new source port), until killed. Each is a new connection to conntrack, so a
 * NAT change applies to the next datagram; one long-lived ping would keep its first conntrack entry
 * (and its first DNAT) however the rules change.
 */
import { createSocket } from 'node:dgram';

const [host, port, interval] = process.argv.slice(2) as [string, string, string];
setInterval(() => {
  const s = createSocket('udp4');
  s.on('error', () => s.close());
  s.send('probe', Number(port), host, () => s.close());
}, Number(interval));
process.on('SIGTERM', () => process.exit(0));
