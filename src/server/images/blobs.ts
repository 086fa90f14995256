/**
 * The repository's blob files: `<data dir>/images/blobs/sha256/<hex>`, one file per content, shared
 * by every image that holds it. Uploads are staged under `<data dir>/images/tmp/` (same file
 * system, so a verified blob moves in with a rename) and a staged directory is removed whatever
 * happens. A blob file is deleted once no catalog row names it; the mutex keeps that check and an
 * upload's commit from interleaving.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { mkdtemp, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Mutex } from '../../common/mutex.js';
import { digestHex } from '../../model/oci.js';

export class BlobFiles {
  readonly blobDir: string;
  readonly tmpDir: string;
  /** Serializes "commit staged blobs + record them" against "forget an image + delete its blobs". */
  readonly lock = new Mutex();

  constructor(readonly root: string) {
    this.blobDir = join(root, 'blobs', 'sha256');
    this.tmpDir = join(root, 'tmp');
    mkdirSync(this.blobDir, { recursive: true });
    // What a crash left half-uploaded is garbage: no catalog row names it.
    rmSync(this.tmpDir, { recursive: true, force: true });
    mkdirSync(this.tmpDir, { recursive: true });
  }

  path(digest: string): string {
    return join(this.blobDir, digestHex(digest));
  }

  has(digest: string): boolean {
    return existsSync(this.path(digest));
  }

  /** A fresh staging directory for one upload. */
  stage(): Promise<string> {
    return mkdtemp(join(this.tmpDir, 'up-'));
  }

  async discard(staging: string): Promise<void> {
    await rm(staging, { recursive: true, force: true });
  }

  /** Moves a verified staged blob in (a blob already present is the same content: the copy is dropped). */
  async adopt(stagedFile: string, digest: string): Promise<void> {
    if (this.has(digest)) await unlink(stagedFile);
    else await rename(stagedFile, this.path(digest));
  }

  /** Deletes those of `digests` that `referenced` says nobody holds any more. */
  async collect(digests: readonly string[], referenced: (digest: string) => boolean): Promise<void> {
    for (const d of digests) if (!referenced(d)) await rm(this.path(d), { force: true });
  }
}
