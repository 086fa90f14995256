/**
 * The OCI image layout as hypernet's image repository stores and serves it (OCI image-spec v1):
 * `oci-layout`, `index.json` naming exactly one image manifest, and content-addressed blobs under
 * `blobs/sha256/`. Pure parsing and checks shared by the server (verifying a push) and the puller
 * (verifying a pull), so both refuse the same things with the same words.
 */

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
} as const;

/** Layer media types of image-spec v1 (tar, optionally gzip or zstd; the non-distributable variants too). */
export const LAYER_MEDIA_TYPES: ReadonlySet<string> = new Set(
  ['', '+gzip', '+zstd'].flatMap((z) => [
    `application/vnd.oci.image.layer.v1.tar${z}`,
    `application/vnd.oci.image.layer.nondistributable.v1.tar${z}`,
  ]),
);

/** The one layout version that exists. */
export const LAYOUT_VERSION = '1.0.0';

/** index.json and manifests are small JSON documents; a larger one is refused (containerd bounds them too). */
export const MAX_METADATA_BYTES = 4 * 1024 * 1024;

/** A blob digest: sha256 only (the algorithm the repository addresses blobs by). */
const DIGEST_RE = /^sha256:([a-f0-9]{64})$/;

export function isDigest(s: unknown): s is string {
  return typeof s === 'string' && DIGEST_RE.test(s);
}

/** The hex part of a sha256 digest (its file name under blobs/sha256/). */
export function digestHex(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new LayoutError(`'${digest}' is not a sha256 digest`);
  return m[1];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** What one image consists of: its manifest and every blob the manifest names. */
export interface ImageGraph {
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
}

/** A layout that is not valid, with the reason (the API turns it into a 400, the puller into a failed pull). */
export class LayoutError extends Error {
  constructor(
    message: string,
    /** The digest that failed, when one did. */
    readonly digest?: string,
  ) {
    super(message);
    this.name = 'LayoutError';
  }
}

function parseJson(bytes: Buffer, what: string): Record<string, unknown> {
  if (bytes.length > MAX_METADATA_BYTES) throw new LayoutError(`${what} is larger than ${MAX_METADATA_BYTES} bytes`);
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new LayoutError(`${what} is not valid JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new LayoutError(`${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

function descriptor(v: unknown, what: string): Descriptor {
  const d = v as Record<string, unknown> | null;
  if (typeof d !== 'object' || d === null) throw new LayoutError(`${what}: not a descriptor`);
  if (typeof d.mediaType !== 'string') throw new LayoutError(`${what}: mediaType missing`);
  if (!isDigest(d.digest)) throw new LayoutError(`${what}: digest missing or not sha256`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)
    throw new LayoutError(`${what}: size missing or invalid`, d.digest);
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

/** `oci-layout`: `{"imageLayoutVersion": "1.0.0"}`. */
export function checkLayoutMarker(bytes: Buffer): void {
  const v = parseJson(bytes, 'oci-layout');
  if (v.imageLayoutVersion !== LAYOUT_VERSION)
    throw new LayoutError(`oci-layout: imageLayoutVersion must be '${LAYOUT_VERSION}'`);
}

/** index.json → the descriptor of its one image manifest (an index of several images or platforms is refused). */
export function parseIndex(bytes: Buffer): Descriptor {
  const v = parseJson(bytes, 'index.json');
  if (v.schemaVersion !== 2) throw new LayoutError('index.json: schemaVersion must be 2');
  if (v.mediaType !== undefined && v.mediaType !== MEDIA.index)
    throw new LayoutError(`index.json: mediaType must be ${MEDIA.index}`);
  if (!Array.isArray(v.manifests) || v.manifests.length === 0)
    throw new LayoutError('index.json names no manifest (missing manifest)');
  if (v.manifests.length > 1)
    throw new LayoutError(`index.json names ${v.manifests.length} manifests: push one image (one platform) at a time`);
  const d = descriptor(v.manifests[0], 'index.json manifests[0]');
  if (d.mediaType !== MEDIA.manifest)
    throw new LayoutError(`index.json: the manifest's mediaType must be ${MEDIA.manifest}, not ${d.mediaType}`);
  return d;
}

/** A manifest's bytes (already checked against `desc`) → the blobs it names. */
export function parseManifest(bytes: Buffer, desc: Descriptor): ImageGraph {
  const v = parseJson(bytes, `manifest ${desc.digest}`);
  if (v.schemaVersion !== 2) throw new LayoutError(`manifest ${desc.digest}: schemaVersion must be 2`, desc.digest);
  if (v.mediaType !== undefined && v.mediaType !== MEDIA.manifest)
    throw new LayoutError(`manifest ${desc.digest}: mediaType must be ${MEDIA.manifest}`, desc.digest);
  const config = descriptor(v.config, `manifest ${desc.digest} config`);
  if (config.mediaType !== MEDIA.config)
    throw new LayoutError(`config ${config.digest}: mediaType must be ${MEDIA.config}`, config.digest);
  if (!Array.isArray(v.layers)) throw new LayoutError(`manifest ${desc.digest}: layers missing`, desc.digest);
  const layers = v.layers.map((l, i) => descriptor(l, `manifest ${desc.digest} layers[${i}]`));
  for (const l of layers)
    if (!LAYER_MEDIA_TYPES.has(l.mediaType))
      throw new LayoutError(`layer ${l.digest}: unsupported mediaType ${l.mediaType}`, l.digest);
  return { manifest: desc, config, layers };
}

/** Every blob of an image, manifest first, each digest once. */
export function graphBlobs(g: ImageGraph): Descriptor[] {
  const seen = new Set<string>();
  return [g.manifest, g.config, ...g.layers].filter((d) => !seen.has(d.digest) && seen.add(d.digest));
}
