/** Small file helpers: atomic writes (temp file + rename) and tolerant reads. */
import { readFile, rename, writeFile } from 'node:fs/promises';

/**
 * Writes `text` to `path` via a temporary file and rename, so readers (dnsmasq on SIGHUP, OpenVPN,
 * a restarted server) never see half a file. `mode` defaults to owner-only: pass 0o644 for files
 * others must read.
 */
export async function writeFileAtomic(path: string, text: string, mode = 0o600): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, path);
}

/** The file's text, or null when it does not exist. */
export async function readTextOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}
