/**
 * Reads an uploaded OCI archive (a tar of an OCI layout, as `podman save --format oci-archive`,
 * `skopeo copy … oci-archive:` or `hypernet image push` make it) as it streams in, with node-tar's
 * parser: every blob goes to its own file in the upload's staging directory while its sha256 is
 * computed, and is refused at once when the content does not hash to its name. Only the layout's
 * own entries are accepted — `oci-layout`, `index.json`, `blobs/`, `blobs/sha256/`, regular files
 * `blobs/sha256/<hex>` — so absolute paths, `..`, links, devices and anything unexpected fail the
 * upload before a byte of it is kept. The caller verifies the graph (index → manifest → blobs).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { LayoutError, MAX_METADATA_BYTES } from '../../model/oci.js';

export interface StagedBlob {
  size: number;
  file: string;
}

export interface Unpacked {
  layoutMarker?: Buffer;
  index?: Buffer;
  /** Staged blobs by digest, each verified against its name. */
  blobs: Map<string, StagedBlob>;
  /** Bytes received. */
  received: number;
}

export interface UnpackLimits {
  /** Most bytes of the upload (and of the entries' content, for a compressed archive). */
  maxBytes: number;
  maxEntries: number;
}

/** Thrown when the upload is larger than allowed (the API answers 413). */
export class TooLargeError extends Error {}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const DIRS = new Set(['', 'blobs', 'blobs/sha256']);
const BLOB_PATH = /^blobs\/sha256\/([a-f0-9]{64})$/;

/** The entry's path made relative ('./x' → 'x'), or a LayoutError for absolute paths and '..'. */
function entryPath(raw: string): string {
  if (raw.startsWith('/') || /^[a-zA-Z]:/.test(raw)) throw new LayoutError(`archive entry '${raw}': absolute path`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new LayoutError(`archive entry '${raw}': path leaves the layout ('..')`);
  return parts.join('/');
}

async function collect(entry: ReadEntry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of entry) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function stageBlob(entry: ReadEntry, hex: string, staging: string): Promise<StagedBlob> {
  const file = join(staging, hex);
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  await pipeline(entry, tap, createWriteStream(file, { flags: 'wx' }));
  const got = hash.digest('hex');
  if (got !== hex)
    throw new LayoutError(`blob sha256:${hex}: content hashes to sha256:${got}, not to its name`, `sha256:${hex}`);
  return { size: entry.size, file };
}

/**
 * Streams `src` into `staging`. Rejects with a LayoutError (bad archive), TooLargeError, or the
 * source's own error; what it staged stays for the caller to discard.
 */
export async function unpackArchive(src: Readable, staging: string, limits: UnpackLimits): Promise<Unpacked> {
  const out: Unpacked = { blobs: new Map(), received: 0 };
  const parser = new Parser({ strict: true });
  const seen = new Set<string>();
  const work: Promise<void>[] = [];
  let failure: Error | undefined;
  let content = 0;
  let wake = () => {};
  // Resolves at the first failure, so no wait on the parser outlives it.
  const failed = new Promise<void>((r) => {
    wake = r;
  });
  const fail = (e: unknown) => {
    failure ??= e instanceof Error ? e : new Error(String(e));
    wake();
  };

  const onEntry = (entry: ReadEntry): Promise<void> => {
    const path = entryPath(entry.path);
    if (seen.size >= limits.maxEntries) throw new LayoutError(`archive has more than ${limits.maxEntries} entries`);
    if (seen.has(path)) throw new LayoutError(`archive entry '${path}' appears twice`);
    seen.add(path);
    content += entry.size;
    if (content > limits.maxBytes) throw new TooLargeError(`image content exceeds ${limits.maxBytes} bytes`);
    if (entry.type === 'Directory') {
      if (!DIRS.has(path)) throw new LayoutError(`archive entry '${path}/': unexpected directory`);
      entry.resume();
      return Promise.resolve();
    }
    if (!FILE_TYPES.has(entry.type))
      throw new LayoutError(
        `archive entry '${path}': type ${entry.type} refused (only regular files and the layout's directories)`,
      );
    if (path === 'oci-layout' || path === 'index.json') {
      if (entry.size > MAX_METADATA_BYTES) throw new LayoutError(`${path} is larger than ${MAX_METADATA_BYTES} bytes`);
      return collect(entry).then((b) => {
        if (path === 'oci-layout') out.layoutMarker = b;
        else out.index = b;
      });
    }
    const m = BLOB_PATH.exec(path);
    if (!m) throw new LayoutError(`archive entry '${path}': not part of an OCI layout`);
    return stageBlob(entry, m[1], staging).then((b) => void out.blobs.set(`sha256:${m[1]}`, b));
  };

  parser.on('entry', (entry: ReadEntry) => {
    if (failure) return entry.resume();
    try {
      work.push(onEntry(entry).catch(fail));
    } catch (e) {
      fail(e);
      entry.resume();
    }
  });
  parser.on('warn', (_code: string, message: string | Error) => fail(new LayoutError(`not a valid tar: ${message}`)));
  parser.on('error', (e: Error) => fail(new LayoutError(`not a valid tar: ${e.message}`)));
  const ended = once(parser, 'end');
  ended.catch(() => {}); // a parser error is reported through fail()

  for await (const chunk of src) {
    out.received += (chunk as Buffer).length;
    if (out.received > limits.maxBytes) fail(new TooLargeError(`image file exceeds ${limits.maxBytes} bytes`));
    if (failure) break;
    if (!parser.write(chunk as Buffer)) await Promise.race([once(parser, 'drain'), failed]);
  }
  if (!failure) {
    parser.end();
    await Promise.race([ended, failed]);
  }
  await Promise.all(work);
  if (failure) {
    // The rest is discarded, not read into anything; the answer closes the connection (glance-routes.ts).
    src.resume();
    throw failure;
  }
  return out;
}
