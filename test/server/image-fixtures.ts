/**
 * Fixtures of the image tests: a real server with the image catalog (token auth, injectable clock,
 * captured log lines), OCI layouts with real sha256 digests — built by `umoci` from a tiny rootfs,
 * or assembled here from real content when a test needs one broken in a precise way — and raw tar
 * archives holding whatever entries a test wants (links, devices, `..`).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Header } from 'tar';
import { type Clock, realClock } from '../../src/common/clock.js';
import type { TokenInfo } from '../../src/server/auth.js';
import { defaultConfig } from '../../src/server/config.js';
import type { ImageConfig } from '../../src/server/images/config.js';
import type { ImageService } from '../../src/server/images/service.js';
import { type RunningServer, serve } from '../../src/server/serve.js';

export const haveUmoci = (() => {
  try {
    execFileSync('umoci', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
export const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

export interface TarEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'FIFO';
  data?: Buffer;
  linkpath?: string;
}

/** A tar archive of exactly these entries (headers encoded by node-tar, ustar framing). */
export function rawTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const block = Buffer.alloc(512);
    const type = e.type ?? 'File';
    new Header({
      path: e.path,
      type,
      size: type === 'File' ? data.length : 0,
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: new Date(0),
      linkpath: e.linkpath,
      devmaj: 1,
      devmin: 3,
    }).encode(block, 0);
    parts.push(block);
    if (type === 'File') parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export interface BuiltLayout {
  entries: TarEntry[];
  manifestDigest: string;
  layerDigest: string;
  configDigest: string;
  tar: Buffer;
}

export interface LayoutFaults {
  /** The layer's bytes differ from what its name (digest) says. */
  corruptLayer?: boolean;
  /** The manifest gives the layer a wrong size. */
  wrongLayerSize?: boolean;
  /** index.json names a manifest that is not in blobs/. */
  missingManifest?: boolean;
  /** Extra entries appended to the archive. */
  extra?: TarEntry[];
  /** Content of the one file in the layer (vary it to get distinct images). */
  content?: string;
}

/** An OCI layout of one image (one tar layer holding etc/motd), real digests, optionally broken. */
export function buildLayout(f: LayoutFaults = {}): BuiltLayout {
  const layer = rawTar([{ path: 'etc/motd', data: Buffer.from(f.content ?? 'hello from a test image\n') }]);
  const layerDigest = `sha256:${sha256(layer)}`;
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layerDigest] } }),
  );
  const configDigest = `sha256:${sha256(config)}`;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: layerDigest,
          size: layer.length + (f.wrongLayerSize ? 1 : 0),
        },
      ],
    }),
  );
  const manifestDigest = `sha256:${sha256(manifest)}`;
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: manifestDigest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': 'latest' },
        },
      ],
    }),
  );
  const layerBytes = f.corruptLayer ? Buffer.from(layer).fill(0x41, 0, 8) : layer;
  const blob = (d: string, data: Buffer): TarEntry => ({ path: `blobs/sha256/${d.slice(7)}`, data });
  const entries: TarEntry[] = [
    { path: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { path: 'index.json', data: index },
    { path: 'blobs/', type: 'Directory' },
    { path: 'blobs/sha256/', type: 'Directory' },
    blob(configDigest, config),
    blob(layerDigest, layerBytes),
    ...(f.missingManifest ? [] : [blob(manifestDigest, manifest)]),
    ...(f.extra ?? []),
  ];
  return { entries, manifestDigest, layerDigest, configDigest, tar: rawTar(entries) };
}

/** A real layout made by umoci from a tiny rootfs (one file); returns its directory. */
export function umociLayout(parent: string, content = 'built by umoci\n'): string {
  const rootfs = join(parent, 'rootfs');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc', 'motd'), content);
  const layout = join(parent, 'layout');
  execFileSync('umoci', ['init', '--layout', layout]);
  execFileSync('umoci', ['new', '--image', `${layout}:latest`]);
  execFileSync('umoci', ['insert', '--rootless', '--image', `${layout}:latest`, rootfs, '/']);
  return layout;
}

/** The directory as a tar (GNU tar, `./` prefixes), as one would archive a layout by hand. */
export function tarDir(dir: string): Buffer {
  return execFileSync('tar', ['-C', dir, '-cf', '-', '.'], { maxBuffer: 64 * 1024 * 1024 });
}

/** A clock a test moves by hand. */
export function manualClock(start = Date.UTC(2026, 11, 1)): Clock & { advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    sleep: realClock.sleep,
    advance: (ms) => {
      t += ms;
    },
  };
}

export interface ImageServer extends RunningServer {
  repositoryUrl: string;
  images: ImageService;
  dir: string;
  dataDir: string;
  logs: string[];
  stop(): Promise<void>;
}

export const TOKENS: Record<string, TokenInfo> = {
  ADMIN: { project_id: 'ops', roles: ['admin'] },
  ALICE: { project_id: 'pa', roles: ['member'] },
  BOB: { project_id: 'pb', roles: ['member'] },
};

export async function startImageServer(
  opts: { images?: Partial<ImageConfig>; clock?: Clock; dataDir?: string; noauth?: boolean } = {},
): Promise<ImageServer> {
  const dir = mkdtempSync(join(tmpdir(), 'hn-img-'));
  const dataDir = opts.dataDir ?? join(dir, 'data');
  const config = defaultConfig();
  config.images = { ...config.images, ...opts.images };
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
  const server = await serve({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    config,
    auth: opts.noauth ? { mode: 'noauth', defaultProjectId: 'admin' } : { mode: 'token', tokens: TOKENS },
    logger,
    clock: opts.clock,
  });
  const { images, repositoryUrl } = server;
  assert.ok(images && repositoryUrl, 'a server with a data dir serves images');
  return {
    ...server,
    images,
    repositoryUrl,
    dir,
    dataDir,
    logs,
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  status: number;
  body: unknown;
  raw: Buffer;
  headers: Headers;
}

/** One request to the image API (`/image/v2…`) as `token`. */
export async function glanceCall(
  s: { url: string },
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token) headers['x-auth-token'] = token;
  let payload: BodyInit | undefined;
  if (body !== undefined) {
    headers['content-type'] = contentType;
    payload = Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body);
  }
  const res = await fetch(`${s.url}/image${path}`, { method, headers, body: payload });
  const raw = Buffer.from(await res.arrayBuffer());
  let parsed: unknown;
  try {
    parsed = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, raw, headers: res.headers };
}

/** Creates an image as `token` and uploads `tar`; returns the image id and the upload's answer. */
export async function pushTar(
  s: { url: string },
  token: string | undefined,
  tar: Buffer,
  extra: Record<string, unknown> = {},
): Promise<{ id: string; upload: Answer }> {
  const created = await glanceCall(s, token, 'POST', '/v2/images', {
    name: 'img',
    container_format: 'docker',
    disk_format: 'raw',
    ...extra,
  });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${created.raw.toString()}`);
  const id = (created.body as { id: string }).id;
  const upload = await glanceCall(s, token, 'PUT', `/v2/images/${id}/file`, tar, 'application/octet-stream');
  return { id, upload };
}

/** Files under the repository's blob and staging directories (both must be empty after a refusal). */
export function repositoryFiles(dataDir: string): { blobs: string[]; tmp: string[] } {
  const list = (d: string) => {
    try {
      return readdirSync(d);
    } catch {
      return [];
    }
  };
  return {
    blobs: list(join(dataDir, 'images', 'blobs', 'sha256')),
    tmp: list(join(dataDir, 'images', 'tmp')),
  };
}
