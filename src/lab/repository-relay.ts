/**
 * The lab's repository relay: the lab's server listens in the root namespace, but HyperVM nodes must
 * pull over TCP from their provider (underlay) address, to which their single-use tokens are bound.
 * This relay runs in the internet namespace, listens on TCP there and forwards each request to the
 * server's Unix socket, naming the TCP peer in `x-hypernet-relay-peer` (the server trusts that header
 * only on its Unix socket, which only root can open).
 */
import http from 'node:http';

export const RELAY_PEER_HEADER = 'x-hypernet-relay-peer';
export const RELAY_PORT = 9393;

/** Starts the relay; resolves once it listens. */
export function startRepositoryRelay(socketPath: string, port = RELAY_PORT): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const headers = { ...req.headers, [RELAY_PEER_HEADER]: req.socket.remoteAddress ?? '' };
    const upstream = http.request({ socketPath, method: req.method, path: req.url, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`relay: ${e.message}\n`);
    });
    req.pipe(upstream);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve(server));
  });
}
