/**
 * Client of the server's image API (Glance v2 under `/image`): JSON calls through ApiClient, and
 * the two streaming ones — upload (`PUT …/file` from any byte source, with progress) and download —
 * on the same connection settings (TCP or Unix socket, token). Glance's error body
 * (`{"message", "code", "title"}`) becomes an ApiError with the message.
 */
import http from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform, type Writable } from 'node:stream';
import { ApiError, type ApiClient, type RawResponse } from './api.js';

export const IMAGE_API = '/image/v2';

export type ImageWire = Record<string, unknown> & { id: string; name: string | null; status: string };

function glanceError(status: number, body: unknown): ApiError {
  const b = body as { message?: unknown; title?: unknown } | undefined;
  const message = typeof b?.message === 'string' ? b.message : typeof body === 'string' ? body : `HTTP ${status}`;
  return new ApiError(status, typeof b?.title === 'string' ? b.title.replace(/\s/g, '') : `HTTP${status}`, message);
}

export class ImageClient {
  constructor(private readonly api: ApiClient) {}

  private async json<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    let res: RawResponse;
    try {
      res = await this.api.raw(method, IMAGE_API + path, body, headers);
    } catch (e) {
      throw new ApiError(0, 'ConnectionFailed', `cannot reach the server: ${(e as Error).message}`);
    }
    if (res.status >= 200 && res.status < 300) return res.body as T;
    throw glanceError(res.status, res.body);
  }

  async list(query: Record<string, string> = {}): Promise<ImageWire[]> {
    const out: ImageWire[] = [];
    let path = `/images?${new URLSearchParams(query).toString()}`;
    for (;;) {
      const page = await this.json<{ images: ImageWire[]; next?: string }>('GET', path);
      out.push(...page.images);
      if (!page.next) return out;
      path = page.next.replace(/^\/v2/, '');
    }
  }

  show(id: string): Promise<ImageWire> {
    return this.json('GET', `/images/${encodeURIComponent(id)}`);
  }

  create(body: Record<string, unknown>): Promise<ImageWire> {
    return this.json('POST', '/images', body);
  }

  async delete(id: string): Promise<void> {
    await this.json('DELETE', `/images/${encodeURIComponent(id)}`);
  }

  /** The id of the one image with this id or name (several with the name: a usage error for the caller). */
  async resolve(nameOrId: string): Promise<ImageWire> {
    try {
      return await this.show(nameOrId);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
    }
    const named = await this.list({ name: nameOrId });
    if (named.length === 1) return named[0];
    if (named.length === 0) throw new ApiError(404, 'NotFound', `No image found with name or ID ${nameOrId}`);
    throw new ApiError(409, 'Conflict', `${named.length} images are named ${nameOrId}: use the ID`);
  }

  issueToken(id: string, address: string, ttl?: number): Promise<{ repository_token: Record<string, string> }> {
    return this.json('POST', `/images/${encodeURIComponent(id)}/repository_tokens`, { address, ttl });
  }

  /** Streams `data` (`size` bytes) as the image's file; `onProgress` hears the bytes sent so far. */
  upload(id: string, data: Readable, size: number, onProgress?: (sent: number) => void): Promise<void> {
    const path = `${IMAGE_API}/images/${encodeURIComponent(id)}/file`;
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(size) };
    return new Promise((resolve, reject) => {
      const req = http.request(this.api.requestOptions('PUT', path, headers), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if ((res.statusCode ?? 0) < 300) return resolve();
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          reject(glanceError(res.statusCode ?? 0, body));
        });
      });
      req.on('error', (e) => reject(new ApiError(0, 'ConnectionFailed', `upload failed: ${e.message}`)));
      let sent = 0;
      const count = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          sent += chunk.length;
          onProgress?.(sent);
          cb(null, chunk);
        },
      });
      // A server that refuses early closes the request: its answer, not the broken pipe, is the error.
      pipeline(data, count, req as unknown as Writable).catch(() => {});
    });
  }

  /** Streams the image's file into `out`; resolves with the byte count. */
  download(id: string, out: Writable, onProgress?: (got: number, total?: number) => void): Promise<number> {
    const path = `${IMAGE_API}/images/${encodeURIComponent(id)}/file`;
    return new Promise((resolve, reject) => {
      const req = http.request(this.api.requestOptions('GET', path, {}), (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => reject(glanceError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))));
          return;
        }
        const total = Number(res.headers['content-length']) || undefined;
        let got = 0;
        const count = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            got += chunk.length;
            onProgress?.(got, total);
            cb(null, chunk);
          },
        });
        pipeline(res, count, out).then(() => resolve(got), reject);
      });
      req.on('error', (e) => reject(new ApiError(0, 'ConnectionFailed', `download failed: ${e.message}`)));
      req.end();
    });
  }
}
