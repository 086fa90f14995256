/**
 * A tiny HyperVM test image built here from Debian's busybox-static, packed as OCI by umoci: busybox
 * and its applets, a udhcpc script, and an init that takes the port's address by DHCP (as a VM would)
 * and then sleeps. Nothing is downloaded. Also the upload of its archive through a Unix socket.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';

const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'ip', 'ping', 'udhcpc', 'sleep', 'wget', 'cat', 'ls', 'ps', 'kill', 'echo', 'mkdir', 'touch'];
const DHCP_SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route add default via "\${router%% *}" dev "$interface"
    ;;
esac
exit 0
`;
const INIT = `#!/bin/sh
udhcpc -i eth0 -t 60 -T 1 -A 1 -q -n -s /usr/share/udhcpc/default.script > /tmp/udhcpc.log 2>&1
exec sleep 2147483647
`;

/** Whether the image can be built here (busybox-static and umoci). */
export function canBuildHyperVmImage(): boolean {
  if (!existsSync(BUSYBOX)) return false;
  try {
    execFileSync('umoci', ['--version'], { stdio: 'ignore' });
    const ldd = execFileSync('sh', ['-c', `ldd ${BUSYBOX} 2>&1 || true`]).toString();
    return /not a dynamic/.test(ldd);
  } catch {
    return false;
  }
}

/** Builds the layout under `parent`; returns the layout directory (tag `latest`). */
export function buildHyperVmImage(parent: string, marker = 'hypervm test image'): string {
  const rootfs = join(parent, 'rootfs');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'usr/share/udhcpc'])
    mkdirSync(join(rootfs, d), { recursive: true });
  execFileSync('cp', [BUSYBOX, join(rootfs, 'bin', 'busybox')]);
  for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
  writeFileSync(join(rootfs, 'usr/share/udhcpc/default.script'), DHCP_SCRIPT, { mode: 0o755 });
  writeFileSync(join(rootfs, 'init.sh'), INIT, { mode: 0o755 });
  writeFileSync(join(rootfs, 'etc', 'motd'), `${marker}\n`);
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  const layout = join(parent, 'layout');
  execFileSync('umoci', ['init', '--layout', layout]);
  execFileSync('umoci', ['new', '--image', `${layout}:latest`]);
  execFileSync('umoci', ['insert', '--rootless', '--image', `${layout}:latest`, rootfs, '/']);
  execFileSync('umoci', [
    'config',
    '--image',
    `${layout}:latest`,
    '--config.cmd',
    '/bin/sh',
    '--config.cmd',
    '/init.sh',
  ]);
  execFileSync('umoci', ['gc', '--layout', layout]);
  return layout;
}

/** One request on the server's Unix socket (the image API included); the JSON answer or the raw text. */
export function socketCall(
  sock: string,
  method: string,
  path: string,
  body?: Buffer | object,
): Promise<{ status: number; body: unknown }> {
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  const type = Buffer.isBuffer(body) ? 'application/octet-stream' : 'application/json';
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath: sock,
        method,
        path,
        headers: payload ? { 'content-type': type, 'content-length': payload.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Pushes a layout directory as an image (Glance create + upload of `tar -C layout .`); returns its id. */
export async function pushLayout(sock: string, layout: string, name: string): Promise<string> {
  const created = await socketCall(sock, 'POST', '/image/v2/images', {
    name,
    container_format: 'docker',
    disk_format: 'raw',
  });
  if (created.status !== 201) throw new Error(`image create: ${created.status} ${JSON.stringify(created.body)}`);
  const id = (created.body as { id: string }).id;
  const tar = execFileSync('tar', ['-C', layout, '-cf', '-', '.'], { maxBuffer: 256 * 1024 * 1024 });
  const up = await socketCall(sock, 'PUT', `/image/v2/images/${id}/file`, tar);
  if (up.status !== 204) throw new Error(`image upload: ${up.status} ${JSON.stringify(up.body)}`);
  return id;
}
