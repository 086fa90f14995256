/**
 * The second half of checking an upload, once every blob is staged and matches its name: the
 * layout's graph. `oci-layout` says version 1.0.0, `index.json` names one image manifest, and the
 * manifest, its config and every layer are present with the size their descriptor gives. The
 * first problem is refused naming the digest that failed.
 */
import { readFile } from 'node:fs/promises';
import {
  checkLayoutMarker,
  type Descriptor,
  type ImageGraph,
  LayoutError,
  MAX_METADATA_BYTES,
  parseIndex,
  parseManifest,
} from '../../model/oci.js';
import type { StagedBlob, Unpacked } from './unpack.js';

export async function verifyUnpacked(u: Unpacked): Promise<ImageGraph> {
  if (!u.layoutMarker) throw new LayoutError('oci-layout is missing');
  checkLayoutMarker(u.layoutMarker);
  if (!u.index) throw new LayoutError('index.json is missing');
  const manifest = parseIndex(u.index);
  const staged = (d: Descriptor, what: string): StagedBlob => {
    const b = u.blobs.get(d.digest);
    if (!b) throw new LayoutError(`${what} ${d.digest} is missing from blobs/sha256`, d.digest);
    if (b.size !== d.size)
      throw new LayoutError(
        `${what} ${d.digest}: the descriptor says ${d.size} bytes, the blob has ${b.size}`,
        d.digest,
      );
    return b;
  };
  const m = staged(manifest, 'manifest');
  if (m.size > MAX_METADATA_BYTES) throw new LayoutError(`manifest ${manifest.digest} is too large`, manifest.digest);
  const graph = parseManifest(await readFile(m.file), manifest);
  staged(graph.config, 'config');
  for (const l of graph.layers) staged(l, 'layer');
  return graph;
}
