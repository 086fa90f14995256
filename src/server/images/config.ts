/**
 * Settings of the image catalog and repository (config file keys in brackets): the largest image
 * file accepted [image_size_cap, bytes], how long a single-use repository token lives
 * [repository_token_ttl, seconds], and where the repository's read endpoint listens
 * [repository_listen, HOST:PORT] — unset, it is served on the API's own port under `/repository` —
 * and how many bytes of active images one project may hold [user_storage_quota, bytes, 0 = no
 * limit; Glance's name], so one tenant cannot fill the server's disk.
 */
import { z } from 'zod';

export interface ImageConfig {
  sizeCap: number;
  tokenTtlMs: number;
  /** `{host, port}` of the repository's own listener, or undefined. */
  repositoryListen?: { host: string; port: number };
  /** Most entries one uploaded archive may hold (each blob is a file staged on disk). */
  maxArchiveEntries: number;
  /** Bytes of active images per project; 0 = unlimited. */
  storageQuota: number;
}

export function defaultImageConfig(): ImageConfig {
  return { sizeCap: 4 * 1024 ** 3, tokenTtlMs: 600_000, maxArchiveEntries: 10_000, storageQuota: 0 };
}

/** HOST:PORT with an IPv4 address or a bracketed IPv6 one; port 0 picks a free port. */
export const zListen = z
  .string()
  .regex(/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):\d{1,5}$/, 'HOST:PORT, e.g. 198.51.100.1:9393')
  .transform((v) => {
    const i = v.lastIndexOf(':');
    return { host: v.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(v.slice(i + 1)) };
  })
  .refine((l) => l.port <= 65535, 'port above 65535');

/** The config file's image keys (merged into the server's file schema). */
export const imageFileKeys = {
  image_size_cap: z.number().int().positive(),
  repository_token_ttl: z.number().int().positive(),
  repository_listen: zListen,
  user_storage_quota: z.number().int().min(0),
};

export function applyImageKeys(
  cfg: ImageConfig,
  f: {
    image_size_cap?: number;
    repository_token_ttl?: number;
    repository_listen?: { host: string; port: number };
    user_storage_quota?: number;
  },
): void {
  if (f.image_size_cap !== undefined) cfg.sizeCap = f.image_size_cap;
  if (f.repository_token_ttl !== undefined) cfg.tokenTtlMs = f.repository_token_ttl * 1000;
  if (f.repository_listen !== undefined) cfg.repositoryListen = f.repository_listen;
  if (f.user_storage_quota !== undefined) cfg.storageQuota = f.user_storage_quota;
}
