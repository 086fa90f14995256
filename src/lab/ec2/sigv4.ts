/**
 * Checks an AWS Signature Version 4 `Authorization` header by signing the same request again with
 * @smithy/signature-v4 (the signer the AWS SDK itself uses) and the secret of the named access key:
 * same signed headers, same date, same body → the same signature, or the request is refused.
 */
import { createHash, createHmac, timingSafeEqual, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { faults } from './errors.js';

type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytes = (d: SourceData): Buffer =>
  typeof d === 'string'
    ? Buffer.from(d, 'utf8')
    : ArrayBuffer.isView(d)
      ? Buffer.from(d.buffer, d.byteOffset, d.byteLength)
      : Buffer.from(d);

/** SHA-256 (and its HMAC, given a secret) in the shape the signer takes, on node:crypto. */
export class Sha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
}

export interface SignedRequest {
  method: string;
  /** The Host header as sent. */
  host: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface AuthHeader {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

export function parseAuthorization(value: string | undefined): AuthHeader {
  const m = value ? AUTH.exec(value) : null;
  if (!m) throw faults.authFailure();
  return {
    accessKeyId: m[1]!,
    date: m[2]!,
    region: m[3]!,
    service: m[4]!,
    signedHeaders: m[5]!.split(';'),
    signature: m[6]!,
  };
}

/** `20261206T231500Z` → a Date. */
export function parseAmzDate(s: string | undefined): Date {
  const m = s && /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) throw faults.authFailure();
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

const header = (h: SignedRequest['headers'], name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
};

/**
 * Verifies the request; returns the access key id. `secretOf` gives a key's secret (undefined: unknown
 * key, AuthFailure). The signature's date may be at most `maxSkewMs` from `now` (RequestExpired).
 */
export async function verifySigV4(
  req: SignedRequest,
  o: { region: string; service: string; now: number; maxSkewMs: number; secretOf: (id: string) => string | undefined },
): Promise<string> {
  const auth = parseAuthorization(header(req.headers, 'authorization'));
  const secret = o.secretOf(auth.accessKeyId);
  if (secret === undefined) throw faults.authFailure();
  if (auth.region !== o.region || auth.service !== o.service) throw faults.signatureMismatch();
  const date = parseAmzDate(header(req.headers, 'x-amz-date'));
  if (Math.abs(date.getTime() - o.now) > o.maxSkewMs) throw faults.expired();
  const token = header(req.headers, 'x-amz-security-token');
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    if (name === 'x-amz-date' || name === 'x-amz-security-token') continue;
    const v = name === 'host' ? req.host : header(req.headers, name);
    if (v === undefined) throw faults.signatureMismatch();
    headers[name] = v;
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId: auth.accessKeyId, secretAccessKey: secret, sessionToken: token },
    region: o.region,
    service: o.service,
    sha256: Sha256,
  });
  const [hostname, port] = req.host.split(':');
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: hostname!,
      port: port ? Number(port) : undefined,
      path: req.path,
      query: req.query,
      headers,
      body: req.body,
    },
    { signingDate: date, signableHeaders: new Set(auth.signedHeaders) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1] ?? '';
  const a = Buffer.from(expected);
  const b = Buffer.from(auth.signature);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw faults.signatureMismatch();
  return auth.accessKeyId;
}
