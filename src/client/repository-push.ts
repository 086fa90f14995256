/**
 * The node's half of a HyperVM export (snapshot, migration): sends an OCI layout directory as the
 * canonical archive into a queued image through the repository, with the single-use upload token the
 * server issued for it, from the provider address the token is bound to. The server verifies every
 * digest as for any push; a refusal comes back as an error naming the reason.
 */
import http from 'node:http';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { archiveChunks, archiveSize, layoutFromDir } from '../common/oci-archive.js';

export interface PushExportOptions {
  /** The repository's base URL (as for pulls). */
  repositoryUrl: string;
  token: string;
  imageId: string;
  /** The OCI layout directory to send. */
  layoutDir: string;
  localAddress?: string;
  /** Bytes sent so far and the archive's size. */
  onProgress?: (sent: number, total: number) => void;
  timeoutMs?: number;
}

/** Sends the layout; resolves with the bytes sent. */
export async function pushExport(o: PushExportOptions): Promise<number> {
  const layout = await layoutFromDir(o.layoutDir);
  const total = archiveSize(layout);
  const url = new URL(`${o.repositoryUrl.replace(/\/$/, '')}/images/${encodeURIComponent(o.imageId)}/file`);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'PUT',
        localAddress: o.localAddress,
        timeout: o.timeoutMs ?? 120_000,
        headers: {
          authorization: `Bearer ${o.token}`,
          'content-type': 'application/octet-stream',
          'content-length': String(total),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode === 204) return resolve(total);
          const text = Buffer.concat(chunks).toString('utf8');
          let why = text.slice(0, 300);
          try {
            const e = (JSON.parse(text) as { error?: { reason?: string; message?: string } }).error;
            if (e) why = `${e.reason}: ${e.message}`;
          } catch {
            /* not JSON */
          }
          reject(new Error(`upload refused (${res.statusCode}): ${why}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('upload timed out')));
    req.on('error', (e) => reject(new Error(`upload failed: ${e.message}`)));
    let sent = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        sent += chunk.length;
        o.onProgress?.(sent, total);
        cb(null, chunk);
      },
    });
    // A server that refuses early closes the request: its answer, not the broken pipe, is the error.
    pipeline(Readable.from(archiveChunks(layout)), count, req as unknown as Writable).catch(() => {});
  });
}
