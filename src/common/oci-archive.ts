/**
 * Writes an OCI layout as one canonical tar archive: `oci-layout`, `index.json`, the directories
 * `blobs/` and `blobs/sha256/`, then every blob in name order, all with fixed owner, mode and time.
 * The same layout always gives the same bytes, so the server (which keeps blobs, not archives)
 * can rebuild exactly the file it reports a checksum for, and `hypernet image push DIR` sends that
 * very file. Headers are encoded by node-tar; the framing (512-byte blocks, two zero blocks at the
 * end) is the ustar format itself.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Header } from 'tar';

const BLOCK = 512;
const EPOCH = new Date(0);

export interface ArchiveBlob {
  /** The hex of its sha256 (the file name under blobs/sha256/). */
  hex: string;
  size: number;
  /** Opens the blob's bytes (exactly `size` of them). */
  open(): Readable;
}

export interface ArchiveLayout {
  layoutMarker: Buffer;
  index: Buffer;
  blobs: readonly ArchiveBlob[];
}

function header(path: string, type: 'File' | 'Directory', size: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  const mode = type === 'Directory' ? 0o755 : 0o644;
  new Header({ path, type, size, mode, uid: 0, gid: 0, uname: '', gname: '', mtime: EPOCH }).encode(block, 0);
  return block;
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** The archive's length in bytes, known before writing (Content-Length, progress bars). */
export function archiveSize(layout: ArchiveLayout): number {
  const file = (size: number) => BLOCK + size + padding(size).length;
  return (
    file(layout.layoutMarker.length) +
    file(layout.index.length) +
    2 * BLOCK +
    layout.blobs.reduce((n, b) => n + file(b.size), 0) +
    2 * BLOCK
  );
}

/** The archive, chunk by chunk; a blob shorter or longer than its declared size fails the stream. */
export async function* archiveChunks(layout: ArchiveLayout): AsyncGenerator<Buffer> {
  const small = (path: string, data: Buffer) => [header(path, 'File', data.length), data, padding(data.length)];
  yield* small('oci-layout', layout.layoutMarker);
  yield* small('index.json', layout.index);
  yield header('blobs/', 'Directory', 0);
  yield header('blobs/sha256/', 'Directory', 0);
  for (const b of [...layout.blobs].sort((x, y) => (x.hex < y.hex ? -1 : x.hex > y.hex ? 1 : 0))) {
    yield header(`blobs/sha256/${b.hex}`, 'File', b.size);
    let n = 0;
    for await (const chunk of b.open()) {
      n += (chunk as Buffer).length;
      if (n > b.size) throw new Error(`blob ${b.hex} is longer than ${b.size} bytes`);
      yield chunk as Buffer;
    }
    if (n !== b.size) throw new Error(`blob ${b.hex} has ${n} bytes, expected ${b.size}`);
    yield padding(b.size);
  }
  yield Buffer.alloc(2 * BLOCK);
}

/** A blob that is a file on disk. */
export function fileBlob(hex: string, size: number, path: string): ArchiveBlob {
  return { hex, size, open: () => createReadStream(path) };
}

/**
 * An OCI layout directory (what `umoci`, `skopeo copy … oci:DIR` write) as an archive to send:
 * its `oci-layout`, `index.json` and every regular file under `blobs/sha256/`. A symlink or any
 * other kind of entry there is refused rather than followed.
 */
export async function layoutFromDir(dir: string): Promise<ArchiveLayout> {
  const blobDir = join(dir, 'blobs', 'sha256');
  const blobs: ArchiveBlob[] = [];
  for (const name of await readdir(blobDir)) {
    const path = join(blobDir, name);
    const st = await lstat(path);
    if (!st.isFile()) throw new Error(`${path}: not a regular file`);
    if (!/^[a-f0-9]{64}$/.test(name)) throw new Error(`${path}: not a sha256 blob name`);
    blobs.push(fileBlob(name, st.size, path));
  }
  return {
    layoutMarker: await readFile(join(dir, 'oci-layout')),
    index: await readFile(join(dir, 'index.json')),
    blobs,
  };
}
