/** Small file helpers for the DHCP state dir: atomic writes (temp file + rename) and tolerant reads. */
import { readFile, rename, writeFile } from 'node:fs/promises';

/** Writes `text` to `path` so readers (dnsmasq on SIGHUP) never see a half-written file. */
export async function writeFileAtomic(path: string, text: string, mode = 0o644): Promise<void> {
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
