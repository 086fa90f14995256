/**
 * Receiving one image file: the archive streams into a staging directory (unpack.ts checks every
 * entry and blob), the layout's graph is verified, the canonical archive's size and hashes are
 * computed, and the image's blobs are moved into the store and recorded in one step under the
 * blob lock. Any failure removes what was staged or moved in and puts the image back to `queued`.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from '../../common/log.js';
import { type ArchiveLayout, archiveChunks, fileBlob } from '../../common/oci-archive.js';
import { LAYOUT_VERSION, digestHex, graphBlobs } from '../../model/oci.js';
import type { BlobFiles } from './blobs.js';
import type { ImageCatalog, ImageRecord } from './catalog.js';
import type { ImageConfig } from './config.js';
import { glance } from './glance-errors.js';
import { TooLargeError, unpackArchive } from './unpack.js';
import { verifyUnpacked } from './verify-upload.js';

/** The canonical `oci-layout` file every stored image is served with. */
export const LAYOUT_MARKER = Buffer.from(JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }));

export interface UploadDeps {
  catalog: ImageCatalog;
  blobs: BlobFiles;
  config: ImageConfig;
  log: Logger;
  /** The current time in Glance's format. */
  now(): string;
}

const quotaExceeded = (project: string) =>
  glance.tooLarge(`Denying attempt to upload image because it exceeds the storage quota of project ${project}.`);

/** Bytes a project may still store (its active images' sizes against user_storage_quota). */
export function storageRoom(catalog: ImageCatalog, config: ImageConfig, project: string): number {
  if (config.storageQuota === 0) return Number.MAX_SAFE_INTEGER;
  const used = catalog
    .list()
    .filter((i) => i.owner === project && i.status === 'active')
    .reduce((n, i) => n + (i.size ?? 0), 0);
  return Math.max(0, config.storageQuota - used);
}

/** size, md5 (`checksum`) and sha512 (`os_hash_value`) of the canonical archive of a layout. */
async function digestArchive(
  layout: ArchiveLayout,
): Promise<{ size: number; checksum: string; os_hash_value: string }> {
  const md5 = createHash('md5');
  const sha512 = createHash('sha512');
  let size = 0;
  for await (const chunk of archiveChunks(layout)) {
    md5.update(chunk);
    sha512.update(chunk);
    size += chunk.length;
  }
  return { size, checksum: md5.digest('hex'), os_hash_value: sha512.digest('hex') };
}

/** Stores `body` as the file of `img`, which the caller has moved to `saving`. */
export async function storeUpload(d: UploadDeps, img: ImageRecord, body: Readable): Promise<void> {
  const id = img.id;
  const staging = await d.blobs.stage();
  try {
    const room = storageRoom(d.catalog, d.config, img.owner);
    const limits = { maxBytes: Math.min(d.config.sizeCap, room), maxEntries: d.config.maxArchiveEntries };
    const u = await unpackArchive(body, staging, limits).catch((e: unknown) => {
      if (e instanceof TooLargeError && room < d.config.sizeCap) throw quotaExceeded(img.owner);
      throw e;
    });
    const graph = await verifyUnpacked(u);
    const index = u.index as Buffer;
    const indexDigest = `sha256:${createHash('sha256').update(index).digest('hex')}`;
    const indexFile = join(staging, `index-${digestHex(indexDigest)}`);
    await writeFile(indexFile, index);
    const parts = graphBlobs(graph).map((d) => ({ ...d, file: u.blobs.get(d.digest)!.file }));
    const sums = await digestArchive({
      layoutMarker: LAYOUT_MARKER,
      index,
      blobs: parts.map((p) => fileBlob(digestHex(p.digest), p.size, p.file)),
    });
    const held = [...parts, { digest: indexDigest, size: index.length, file: indexFile }];
    await d.blobs.lock.run(async () => {
      // Checked again under the lock every commit takes, so two racing uploads cannot both fit.
      if (sums.size > storageRoom(d.catalog, d.config, img.owner)) throw quotaExceeded(img.owner);
      try {
        for (const p of held) await d.blobs.adopt(p.file, p.digest);
        const done = d.catalog.atomically(() => {
          const cur = d.catalog.get(id);
          if (!cur || cur.status !== 'saving') return false;
          d.catalog.setBlobs(id, held);
          d.catalog.put({
            ...cur,
            status: 'active',
            ...sums,
            os_hash_algo: 'sha512',
            oci_manifest_digest: graph.manifest.digest,
            oci_index_digest: indexDigest,
            updated_at: d.now(),
          });
          return true;
        });
        if (!done) throw glance.conflict(`Image ${id} was deleted during the upload`);
      } catch (e) {
        // Whatever was moved in and no image holds (deleted while saving, a failed move) goes again.
        await d.blobs.collect(
          held.map((p) => p.digest),
          (digest) => d.catalog.blobReferenced(digest),
        );
        throw e;
      }
    });
    d.log.info({ image: id, manifest: graph.manifest.digest, size: sums.size }, 'image uploaded');
  } catch (e) {
    // Staging goes first: an image seen queued again has nothing of the failed upload left.
    await d.blobs.discard(staging);
    d.catalog.transition(id, 'saving', { status: 'queued', updated_at: d.now() });
    d.log.info({ image: id, err: (e as Error).message }, 'image upload refused');
    throw e;
  } finally {
    await d.blobs.discard(staging);
  }
}
