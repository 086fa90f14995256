/**
 * The image catalog and repository behind the Glance routes and the repository's read endpoint:
 * images (create, list, show, update, delete, members), uploads (upload.ts), the canonical archive
 * a download serves, and single-use pull tokens. Wire formats live in
 * glance-wire.ts; this file holds the rules and the order of the steps.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import { type ArchiveLayout, fileBlob } from '../../common/oci-archive.js';
import { isIp } from '../../model/grammar/addresses.js';
import { MEDIA, digestHex } from '../../model/oci.js';
import type { Caller } from '../auth.js';
import { BlobFiles } from './blobs.js';
import { type ImageCatalog, type ImageRecord, type MemberRecord, ImageCatalog as Catalog } from './catalog.js';
import type { ImageConfig } from './config.js';
import { canSee, checkVisibilityChange, isListed, mustOwn } from './access.js';
import { glance } from './glance-errors.js';
import { type CreateFields, type ListQuery, type PatchOp, applyPatch, filterAndSort, page } from './glance-wire.js';
import {
  type PullStep,
  authorizePull,
  authorizeUpload,
  canonicalAddress,
  hashToken,
  logRefusal,
  newToken,
  TokenRefused,
} from './tokens.js';
import { LAYOUT_MARKER, storeUpload } from './upload.js';

const glanceTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface IssuedToken {
  token: string;
  image_id: string;
  address: string;
  expires_at: string;
}

/** One response of the repository: a file to stream, its size and type. */
export interface RepositoryFile {
  path: string;
  size: number;
  contentType: string;
}

export class ImageService {
  readonly catalog: ImageCatalog;
  readonly blobs: BlobFiles;

  constructor(
    dataDir: string,
    readonly config: ImageConfig,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    const root = join(dataDir, 'images');
    this.blobs = new BlobFiles(root);
    this.catalog = new Catalog(root);
    // An upload the server died in the middle of left nothing kept (tmp is swept): the image waits again.
    for (const img of this.catalog.list()) if (img.status === 'saving') this.catalog.put({ ...img, status: 'queued' });
    this.catalog.pruneTokens(this.clock.now() - 86_400_000);
  }

  close(): void {
    this.catalog.close();
  }

  private now(): string {
    return glanceTime(this.clock.now());
  }

  private membership(c: Caller, imageId: string) {
    return this.catalog.member(imageId, c.projectId)?.status;
  }

  /** The image if the caller may see it; otherwise 404, exactly as when it does not exist. */
  get(c: Caller, id: string): ImageRecord {
    const img = this.catalog.get(id);
    if (!img || !canSee(c, img, this.membership(c, id))) throw glance.imageNotFound(id);
    return img;
  }

  create(c: Caller, f: CreateFields): ImageRecord {
    checkVisibilityChange(c, undefined, f.visibility);
    if (f.owner !== undefined && f.owner !== c.projectId && !c.isAdmin)
      throw glance.forbidden('You are not permitted to create images owned by another project.');
    const id = f.id ?? randomUUID();
    if (this.catalog.get(id)) throw glance.conflict(`Image with identifier ${id} already exists!`);
    const now = this.now();
    const img: ImageRecord = {
      id,
      name: f.name,
      status: 'queued',
      visibility: f.visibility,
      protected: f.protected,
      os_hidden: f.os_hidden,
      owner: f.owner ?? c.projectId,
      container_format: f.container_format,
      disk_format: f.disk_format,
      min_disk: f.min_disk,
      min_ram: f.min_ram,
      tags: f.tags,
      properties: f.properties,
      size: null,
      checksum: null,
      os_hash_algo: null,
      os_hash_value: null,
      oci_manifest_digest: null,
      oci_index_digest: null,
      created_at: now,
      updated_at: now,
    };
    this.catalog.insert(img);
    return img;
  }

  list(c: Caller, q: ListQuery): { items: ImageRecord[]; next?: string } {
    const member = this.catalog.membershipsOf(c.projectId);
    const visible = this.catalog.list().filter((img) => isListed(c, img, member.get(img.id), q));
    return page(filterAndSort(visible, q), q);
  }

  update(c: Caller, id: string, ops: readonly PatchOp[]): ImageRecord {
    return this.catalog.atomically(() => {
      const img = this.get(c, id);
      mustOwn(c, img, 'modify');
      const next = applyPatch(img, ops);
      if (next.owner !== img.owner && !c.isAdmin) throw glance.forbidden("Attribute 'owner' is reserved.");
      checkVisibilityChange(c, img.visibility, next.visibility);
      next.updated_at = this.now();
      this.catalog.put(next);
      return next;
    });
  }

  async remove(c: Caller, id: string): Promise<void> {
    const img = this.get(c, id);
    mustOwn(c, img, 'delete');
    if (img.protected) throw glance.forbidden(`Image ${id} is protected and cannot be deleted.`);
    await this.blobs.lock.run(async () => {
      const digests = this.catalog.remove(id);
      await this.blobs.collect(digests, (d) => this.catalog.blobReferenced(d));
    });
  }

  // ---- tags and members ----

  setTag(c: Caller, id: string, tag: string, on: boolean): void {
    this.catalog.atomically(() => {
      const img = this.get(c, id);
      mustOwn(c, img, 'modify');
      if (!on && !img.tags.includes(tag)) throw glance.notFound(`Tag ${tag} not found`);
      const ops: PatchOp[] = [
        { op: 'replace', key: 'tags', value: on ? [...img.tags, tag] : img.tags.filter((t) => t !== tag) },
      ];
      this.catalog.put({ ...applyPatch(img, ops), updated_at: this.now() });
    });
  }

  members(c: Caller, id: string): MemberRecord[] {
    const img = this.get(c, id);
    if (img.visibility !== 'shared') throw glance.forbidden('Only shared images have members.');
    const all = this.catalog.members(id);
    return c.isAdmin || img.owner === c.projectId ? all : all.filter((m) => m.member_id === c.projectId);
  }

  addMember(c: Caller, id: string, memberId: string): MemberRecord {
    return this.catalog.atomically(() => {
      const img = this.get(c, id);
      mustOwn(c, img, 'share');
      if (img.visibility !== 'shared') throw glance.forbidden('Only shared images have members.');
      if (this.catalog.member(id, memberId)) throw glance.conflict(`Member ${memberId} already exists.`);
      const now = this.now();
      const m: MemberRecord = {
        image_id: id,
        member_id: memberId,
        status: 'pending',
        created_at: now,
        updated_at: now,
      };
      this.catalog.putMember(m);
      return m;
    });
  }

  /** The member itself accepts or rejects (Glance: only the member may change its status). */
  setMemberStatus(c: Caller, id: string, memberId: string, status: string): MemberRecord {
    return this.catalog.atomically(() => {
      this.get(c, id);
      const m = this.catalog.member(id, memberId);
      if (!m) throw glance.notFound(`Member ${memberId} not found`);
      if (memberId !== c.projectId) throw glance.forbidden('Only the member may change its membership status.');
      if (status !== 'pending' && status !== 'accepted' && status !== 'rejected')
        throw glance.badRequest(`Invalid status: ${status}`);
      const next: MemberRecord = { ...m, status, updated_at: this.now() };
      this.catalog.putMember(next);
      return next;
    });
  }

  removeMember(c: Caller, id: string, memberId: string): void {
    this.catalog.atomically(() => {
      const img = this.get(c, id);
      mustOwn(c, img, 'unshare');
      if (!this.catalog.member(id, memberId)) throw glance.notFound(`Member ${memberId} not found`);
      this.catalog.removeMember(id, memberId);
    });
  }

  // ---- data ----

  /**
   * PUT /file: queued → saving, stream into staging while checking every blob, verify the graph,
   * then move the image's blobs in and mark it active. Any failure leaves no blob and the image
   * queued again.
   */
  async upload(c: Caller, id: string, body: Readable): Promise<void> {
    const img = this.get(c, id);
    mustOwn(c, img, 'upload data to');
    if (img.container_format === null || img.disk_format === null)
      throw glance.badRequest('Properties container_format and disk_format must be set prior to saving data.');
    if (!this.catalog.transition(id, 'queued', { status: 'saving', updated_at: this.now() }))
      throw glance.conflict(`Image status transition from ${img.status} to saving is not allowed`);
    await storeUpload(
      { catalog: this.catalog, blobs: this.blobs, config: this.config, log: this.log, now: () => this.now() },
      img,
      body,
    );
  }

  /** The stored layout of an active image, as the canonical archive is built from it. */
  async layoutOf(img: ImageRecord): Promise<ArchiveLayout> {
    const indexDigest = img.oci_index_digest as string;
    const index = await readFile(this.blobs.path(indexDigest));
    const blobs = this.catalog
      .blobsOf(img.id)
      .filter((b) => b.digest !== indexDigest)
      .map((b) => fileBlob(digestHex(b.digest), b.size, this.blobs.path(b.digest)));
    return { layoutMarker: LAYOUT_MARKER, index, blobs };
  }

  /** GET /file: the owner's (or an admin's) copy; launches read through the repository with a token. */
  async download(c: Caller, id: string): Promise<{ img: ImageRecord; layout?: ArchiveLayout }> {
    const img = this.get(c, id);
    mustOwn(c, img, 'download');
    if (img.status !== 'active') return { img };
    return { img, layout: await this.layoutOf(img) };
  }

  // ---- repository ----

  /** Issues a token for one pull of an active image from `address` (owner or admin). */
  issueToken(c: Caller, id: string, address: unknown, ttlSeconds?: unknown): IssuedToken {
    const img = this.get(c, id);
    mustOwn(c, img, 'issue a repository token for');
    if (img.status !== 'active') throw glance.conflict(`Image ${id} is ${img.status}, not active: nothing to pull`);
    if (!isIp(address)) throw glance.badRequest("'address' must be the puller's IP address");
    const maxTtl = this.config.tokenTtlMs / 1000;
    if (
      ttlSeconds !== undefined &&
      (typeof ttlSeconds !== 'number' || !Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > maxTtl)
    )
      throw glance.badRequest(`'ttl' must be a whole number of seconds from 1 to ${maxTtl}`);
    const token = newToken();
    const hash = hashToken(token);
    const expires =
      this.clock.now() + (ttlSeconds === undefined ? this.config.tokenTtlMs : (ttlSeconds as number) * 1000);
    const addr = canonicalAddress(address) as string;
    this.catalog.putToken({
      hash,
      image_id: id,
      address: addr,
      project_id: c.projectId,
      expires_at_ms: expires,
      state: 'issued',
      served: [],
    });
    this.log.info({ image: id, address: addr, token: hash.slice(0, 12) }, 'repository token issued');
    return { token, image_id: id, address: addr, expires_at: glanceTime(expires) };
  }

  /**
   * A token for one upload into a queued image from `address` (admin: a HyperVM node sending its
   * export). The node has the container's files and no tenant credentials; this token is all it gets.
   */
  issueUploadToken(c: Caller, id: string, address: string): IssuedToken {
    const img = this.get(c, id);
    mustOwn(c, img, 'issue an upload token for');
    if (img.status !== 'queued') throw glance.conflict(`Image ${id} is ${img.status}, not queued: nothing to upload`);
    const token = newToken();
    const hash = hashToken(token);
    const expires = this.clock.now() + this.config.tokenTtlMs;
    const addr = canonicalAddress(address);
    if (addr === undefined) throw glance.badRequest("'address' must be the uploader's IP address");
    this.catalog.putToken({
      hash,
      image_id: id,
      address: addr,
      project_id: img.owner,
      expires_at_ms: expires,
      state: 'issued',
      served: [],
      purpose: 'upload',
    });
    this.log.info({ image: id, address: addr, token: hash.slice(0, 12) }, 'repository upload token issued');
    return { token, image_id: id, address: addr, expires_at: glanceTime(expires) };
  }

  /** An upload with an upload token: the token is consumed first, then the file is verified as any push. */
  async uploadWithToken(token: string | undefined, id: string, address: string | undefined, body: Readable) {
    const r = { token, imageId: id, address, nowMs: this.clock.now() };
    try {
      authorizeUpload(this.catalog, r);
    } catch (e) {
      if (e instanceof TokenRefused) logRefusal(this.log, r, e);
      throw e;
    }
    const img = this.catalog.get(id);
    if (!img || !this.catalog.transition(id, 'queued', { status: 'saving', updated_at: this.now() }))
      throw glance.conflict(`Image ${id} is not queued: nothing to upload`);
    await storeUpload(
      { catalog: this.catalog, blobs: this.blobs, config: this.config, log: this.log, now: () => this.now() },
      img,
      body,
    );
  }

  /** One read of a pull: checks and records it against the token, then names the file to send. */
  pull(token: string | undefined, imageId: string, address: string | undefined, step: PullStep): RepositoryFile {
    const img = this.catalog.get(imageId);
    const r = { token, imageId, address, step, nowMs: this.clock.now() };
    try {
      const indexDigest = img?.oci_index_digest ?? undefined;
      const blobs = this.catalog
        .blobsOf(imageId)
        .map((b) => b.digest)
        .filter((d) => d !== indexDigest);
      authorizePull(this.catalog, blobs, r);
      if (!img || img.status !== 'active' || !indexDigest) throw new TokenRefused('not_in_image', 'image not active');
      const digest = step.kind === 'index' ? indexDigest : step.digest;
      const size = this.catalog.blobsOf(imageId).find((b) => b.digest === digest)?.size ?? 0;
      const contentType = step.kind === 'index' ? MEDIA.index : 'application/octet-stream';
      return { path: this.blobs.path(digest), size, contentType };
    } catch (e) {
      if (e instanceof TokenRefused) logRefusal(this.log, r, e);
      throw e;
    }
  }
}
