/**
 * Writing a secret the API returned (an agentless port's user_data holds its private key) to a
 * file readable by its owner only: mode 0600 also when the file existed with a wider mode, set
 * before any byte is written.
 */
import { closeSync, fchmodSync, openSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';

/** Writes `text` to `path` (created or truncated) with mode 0600; returns the absolute path. */
export function writeSecretFile(path: string, text: string): string {
  const fd = openSync(path, 'w', 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return resolve(path);
}
