/**
 * The image catalog's records in their own SQLite file beside the blobs (`<data dir>/images/
 * catalog.db`): images, their members, which blobs each active image holds, and the single-use
 * repository tokens (hashed). They live with the blobs rather than in the network store because the
 * two must agree — a blob is kept exactly while a catalog row names it — and because images are no
 * business of the agents' watch stream. better-sqlite3 is synchronous, so every method here is one
 * atomic step.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export type ImageStatus = 'queued' | 'saving' | 'active' | 'killed' | 'deleted';
export type Visibility = 'public' | 'private' | 'shared' | 'community';
export type MemberStatus = 'pending' | 'accepted' | 'rejected';

export interface ImageRecord {
  id: string;
  name: string | null;
  status: ImageStatus;
  visibility: Visibility;
  protected: boolean;
  os_hidden: boolean;
  owner: string;
  container_format: string | null;
  disk_format: string | null;
  min_disk: number;
  min_ram: number;
  tags: string[];
  /** Glance's additional properties (string values). */
  properties: Record<string, string>;
  size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  /** The digest of the image's OCI manifest once active. */
  oci_manifest_digest: string | null;
  /** Internal: the stored index.json (a blob like the others), never shown or patched. */
  oci_index_digest: string | null;
  created_at: string;
  updated_at: string;
}

export interface MemberRecord {
  image_id: string;
  member_id: string;
  status: MemberStatus;
  created_at: string;
  updated_at: string;
}

export interface BlobRef {
  digest: string;
  size: number;
}

export type TokenState = 'issued' | 'pulling' | 'consumed';

export interface TokenRecord {
  /** sha256 of the token (the clear token is never stored). */
  hash: string;
  image_id: string;
  address: string;
  project_id: string;
  expires_at_ms: number;
  state: TokenState;
  /** Blob digests already served to this token's pull. */
  served: string[];
  /** 'upload': a token for one upload of a HyperVM's export into this (queued) image; absent: a pull. */
  purpose?: 'upload';
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS images (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, body TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS image_members (image_id TEXT NOT NULL, member_id TEXT NOT NULL, body TEXT NOT NULL,
     PRIMARY KEY (image_id, member_id))`,
  `CREATE TABLE IF NOT EXISTS image_blobs (image_id TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL,
     PRIMARY KEY (image_id, digest))`,
  `CREATE INDEX IF NOT EXISTS image_blobs_digest ON image_blobs (digest)`,
  `CREATE TABLE IF NOT EXISTS repository_tokens (hash TEXT PRIMARY KEY, image_id TEXT NOT NULL, body TEXT NOT NULL)`,
];

export class ImageCatalog {
  private readonly db: Database.Database;
  private seq: number;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.db = new Database(join(dir, 'catalog.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    for (const sql of SCHEMA) this.db.exec(sql);
    this.seq = Number(this.db.prepare('SELECT coalesce(max(seq), 0) FROM images').pluck().get());
  }

  close(): void {
    this.db.close();
  }

  /** One atomic step made of several calls (better-sqlite3 transactions are synchronous). */
  atomically<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  get(id: string): ImageRecord | undefined {
    const body = this.db.prepare('SELECT body FROM images WHERE id = ?').pluck().get(id) as string | undefined;
    return body === undefined ? undefined : (JSON.parse(body) as ImageRecord);
  }

  /** Every image in creation order. */
  list(): ImageRecord[] {
    return (this.db.prepare('SELECT body FROM images ORDER BY seq').pluck().all() as string[]).map(
      (b) => JSON.parse(b) as ImageRecord,
    );
  }

  insert(img: ImageRecord): void {
    this.seq += 1;
    this.db.prepare('INSERT INTO images (id, seq, body) VALUES (?, ?, ?)').run(img.id, this.seq, JSON.stringify(img));
  }

  put(img: ImageRecord): void {
    this.db.prepare('UPDATE images SET body = ? WHERE id = ?').run(JSON.stringify(img), img.id);
  }

  /** Moves an image from one status to another; false when it was not in `from` (a racing upload). */
  transition(id: string, from: ImageStatus, change: Partial<ImageRecord>): ImageRecord | undefined {
    return this.atomically(() => {
      const img = this.get(id);
      if (!img || img.status !== from) return undefined;
      const next = { ...img, ...change };
      this.put(next);
      return next;
    });
  }

  /** Removes an image with its members, blob references and tokens; returns the digests it held. */
  remove(id: string): string[] {
    return this.atomically(() => {
      const digests = this.blobsOf(id).map((b) => b.digest);
      this.db.prepare('DELETE FROM images WHERE id = ?').run(id);
      this.db.prepare('DELETE FROM image_members WHERE image_id = ?').run(id);
      this.db.prepare('DELETE FROM image_blobs WHERE image_id = ?').run(id);
      this.db.prepare('DELETE FROM repository_tokens WHERE image_id = ?').run(id);
      return digests;
    });
  }

  // ---- blobs ----

  setBlobs(imageId: string, blobs: readonly BlobRef[]): void {
    this.db.prepare('DELETE FROM image_blobs WHERE image_id = ?').run(imageId);
    const ins = this.db.prepare('INSERT OR IGNORE INTO image_blobs (image_id, digest, size) VALUES (?, ?, ?)');
    for (const b of blobs) ins.run(imageId, b.digest, b.size);
  }

  blobsOf(imageId: string): BlobRef[] {
    return this.db
      .prepare('SELECT digest, size FROM image_blobs WHERE image_id = ? ORDER BY digest')
      .all(imageId) as BlobRef[];
  }

  /** Whether any image still holds this blob. */
  blobReferenced(digest: string): boolean {
    return this.db.prepare('SELECT 1 FROM image_blobs WHERE digest = ? LIMIT 1').get(digest) !== undefined;
  }

  // ---- members ----

  members(imageId: string): MemberRecord[] {
    return (
      this.db
        .prepare('SELECT body FROM image_members WHERE image_id = ? ORDER BY member_id')
        .pluck()
        .all(imageId) as string[]
    ).map((b) => JSON.parse(b) as MemberRecord);
  }

  member(imageId: string, memberId: string): MemberRecord | undefined {
    const b = this.db
      .prepare('SELECT body FROM image_members WHERE image_id = ? AND member_id = ?')
      .pluck()
      .get(imageId, memberId) as string | undefined;
    return b === undefined ? undefined : (JSON.parse(b) as MemberRecord);
  }

  /** Every (image, status) a project is a member of. */
  membershipsOf(memberId: string): Map<string, MemberStatus> {
    const rows = this.db
      .prepare('SELECT body FROM image_members WHERE member_id = ?')
      .pluck()
      .all(memberId) as string[];
    return new Map(rows.map((b) => JSON.parse(b) as MemberRecord).map((m) => [m.image_id, m.status]));
  }

  putMember(m: MemberRecord): void {
    this.db
      .prepare(
        `INSERT INTO image_members (image_id, member_id, body) VALUES (?, ?, ?)
         ON CONFLICT (image_id, member_id) DO UPDATE SET body = excluded.body`,
      )
      .run(m.image_id, m.member_id, JSON.stringify(m));
  }

  removeMember(imageId: string, memberId: string): void {
    this.db.prepare('DELETE FROM image_members WHERE image_id = ? AND member_id = ?').run(imageId, memberId);
  }

  // ---- tokens ----

  token(hash: string): TokenRecord | undefined {
    const b = this.db.prepare('SELECT body FROM repository_tokens WHERE hash = ?').pluck().get(hash) as
      | string
      | undefined;
    return b === undefined ? undefined : (JSON.parse(b) as TokenRecord);
  }

  putToken(t: TokenRecord): void {
    this.db
      .prepare(
        `INSERT INTO repository_tokens (hash, image_id, body) VALUES (?, ?, ?)
         ON CONFLICT (hash) DO UPDATE SET body = excluded.body`,
      )
      .run(t.hash, t.image_id, JSON.stringify(t));
  }

  /** Drops tokens that expired before `beforeMs` (they can never be used again). */
  pruneTokens(beforeMs: number): void {
    const rows = this.db.prepare('SELECT hash, body FROM repository_tokens').all() as { hash: string; body: string }[];
    const del = this.db.prepare('DELETE FROM repository_tokens WHERE hash = ?');
    for (const r of rows) if ((JSON.parse(r.body) as TokenRecord).expires_at_ms < beforeMs) del.run(r.hash);
  }
}
