/**
 * The puller: fetches one image from the repository with a single-use token and writes it as an
 * OCI layout directory. Every blob is checked against its digest and size as it streams to disk;
 * the layout is assembled in a temporary directory beside the destination and renamed into place
 * only when complete, so a failed pull (refused token, corrupt blob, broken connection) leaves
 * nothing. Used by the agent on a HyperVM and by `hypernet image pull`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Descriptor,
  LAYOUT_VERSION,
  LayoutError,
  MAX_METADATA_BYTES,
  digestHex,
  graphBlobs,
  parseIndex,
  parseManifest,
} from '../model/oci.js';

export interface PullOptions {
  /** The repository's base URL, e.g. `http://198.51.100.1:9393` or `http://HOST:9696/repository`. */
  repositoryUrl: string;
  token: string;
  imageId: string;
  /** The layout directory to create (must not exist yet). */
  dest: string;
  /** The source address to pull from (the one the token is bound to), when the host has several. */
  localAddress?: string;
  /** Bytes done so far and the image's total (known once the manifest is read). */
  onProgress?: (done: number, total: number | undefined) => void;
  timeoutMs?: number;
}

export interface PullResult {
  manifest: Descriptor;
  bytes: number;
}

/** A pull that failed: the repository's refusal (`reason` from its answer), or a verification failure. */
export class PullError extends Error {
  constructor(
    message: string,
    readonly status = 0,
    readonly reason = 'pull_failed',
  ) {
    super(message);
    this.name = 'PullError';
  }
}

function get(o: PullOptions, path: string): Promise<http.IncomingMessage> {
  const base = new URL(o.repositoryUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: base.hostname.replace(/^\[|\]$/g, ''),
        port: Number(base.port || 80),
        path: `${base.pathname.replace(/\/$/, '')}/images/${encodeURIComponent(o.imageId)}/${path}`,
        method: 'GET',
        localAddress: o.localAddress,
        headers: { authorization: `Bearer ${o.token}` },
      },
      async (res) => {
        if (res.statusCode === 200) return resolve(res);
        const chunks: Buffer[] = [];
        for await (const c of res) chunks.push(c as Buffer);
        let reason = 'http_error';
        let message = `HTTP ${res.statusCode}`;
        try {
          const e = JSON.parse(Buffer.concat(chunks).toString('utf8')).error;
          if (typeof e?.reason === 'string') reason = e.reason;
          if (typeof e?.message === 'string') message = e.message;
        } catch {
          /* not our JSON */
        }
        reject(new PullError(`repository refused ${path}: ${message}`, res.statusCode ?? 0, reason));
      },
    );
    req.setTimeout(o.timeoutMs ?? 60_000, () => req.destroy(new PullError(`timeout fetching ${path}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Fetches one blob into `file`, refusing it unless it has exactly `d.size` bytes hashing to `d.digest`. */
async function fetchBlob(o: PullOptions, d: Descriptor, file: string, progress: (n: number) => void): Promise<void> {
  const hex = digestHex(d.digest);
  const res = await get(o, `blobs/sha256/${hex}`);
  const hash = createHash('sha256');
  let n = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      if (n > d.size) return cb(new LayoutError(`blob ${d.digest}: more than its ${d.size} bytes`, d.digest));
      hash.update(chunk);
      progress(chunk.length);
      cb(null, chunk);
    },
  });
  await pipeline(res, check, createWriteStream(file, { flags: 'wx' }));
  if (n !== d.size) throw new LayoutError(`blob ${d.digest}: ${n} bytes, expected ${d.size}`, d.digest);
  const got = hash.digest('hex');
  if (got !== hex)
    throw new LayoutError(`blob ${d.digest}: content hashes to sha256:${got} (digest mismatch)`, d.digest);
}

async function fetchSmall(o: PullOptions, path: string): Promise<Buffer> {
  const res = await get(o, path);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > MAX_METADATA_BYTES) throw new LayoutError(`${path} is larger than ${MAX_METADATA_BYTES} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function pullImage(o: PullOptions): Promise<PullResult> {
  if (
    await access(o.dest).then(
      () => true,
      () => false,
    )
  )
    throw new PullError(`${o.dest} already exists`);
  const tmp = join(dirname(o.dest), `.pull-${randomBytes(6).toString('hex')}`);
  const blobDir = join(tmp, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  try {
    const index = await fetchSmall(o, 'index.json');
    const manifest = parseIndex(index);
    let done = 0;
    const progress = (n: number, total?: number) => {
      done += n;
      o.onProgress?.(done, total);
    };
    if (manifest.size > MAX_METADATA_BYTES) throw new LayoutError('manifest too large', manifest.digest);
    const mFile = join(blobDir, digestHex(manifest.digest));
    await fetchBlob(o, manifest, mFile, (n) => progress(n));
    const graph = parseManifest(await readFile(mFile), manifest);
    const rest = graphBlobs(graph).slice(1);
    const total = graphBlobs(graph).reduce((s, d) => s + d.size, 0);
    progress(0, total);
    for (const d of rest) await fetchBlob(o, d, join(blobDir, digestHex(d.digest)), (n) => progress(n, total));
    await writeFile(join(tmp, 'oci-layout'), JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }));
    await writeFile(join(tmp, 'index.json'), index);
    await rename(tmp, o.dest);
    return { manifest, bytes: done };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (e instanceof PullError) throw e;
    const reason = e instanceof LayoutError ? 'verification_failed' : 'pull_failed';
    throw new PullError(`pull of image ${o.imageId} failed: ${(e as Error).message}`, 0, reason);
  }
}
