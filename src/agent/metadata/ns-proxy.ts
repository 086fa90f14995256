/**
 * The proxy that listens on 169.254.169.254:80 inside a network's DHCP namespace (one process per
 * network, as Neutron runs one haproxy per network). It forwards GET and HEAD requests to the
 * agent's Unix socket (reachable from any namespace) with only two headers of its own: the network
 * it serves and the source address the request came from. Nothing the workload sent in its headers
 * passes, so a forged X-Forwarded-For or instance header is simply dropped.
 */
import http from 'node:http';

export const NETWORK_HEADER = 'x-hypernet-network-id';
export const SOURCE_HEADER = 'x-forwarded-for';

export interface NsProxyOptions {
  networkId: string;
  /** The agent's metadata socket. */
  socket: string;
  host: string;
  port: number;
  timeoutMs?: number;
}

export function startNsProxy(o: NsProxyOptions): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('Method Not Allowed\n');
      return;
    }
    const headers = { [NETWORK_HEADER]: o.networkId, [SOURCE_HEADER]: req.socket.remoteAddress ?? '' };
    const up = http.request({ socketPath: o.socket, method: req.method, path: req.url, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, { 'content-type': r.headers['content-type'] ?? 'text/plain' });
      r.pipe(res);
    });
    up.setTimeout(o.timeoutMs ?? 10_000, () => up.destroy(new Error('timeout')));
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('metadata proxy: agent unreachable\n');
    });
    up.end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve(server));
  });
}
