/**
 * The node's WireGuard key pair. The private key is made here and never leaves the node: it lives
 * in the agent's state dir (mode 0600, read by `wg set … private-key FILE`); only the public key goes
 * to the server with the registration. Keys are raw X25519 in base64, WireGuard's format, made with
 * node:crypto so no program is needed to make one. `rotate` writes a new pair and keeps the old one
 * as `private.key.prev`: the running agent sees the new file on its next pass (one small read),
 * registers the new public key, and keeps using the old private key until the server has accepted
 * the new one; its peers switch on the event of that change, a moment later.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newPrivateKey, publicKeyOf } from '../../model/wg-keypair.js';

export { newPrivateKey, publicKeyOf };

export interface NodeKeys {
  /** Path of the file holding the private key (what `wg` reads). */
  privateKeyFile: string;
  publicKey: string;
}

export const keyFile = (stateDir: string): string => join(stateDir, 'wireguard', 'private.key');

function readKey(file: string): NodeKeys | null {
  try {
    return { privateKeyFile: file, publicKey: publicKeyOf(readFileSync(file, 'utf8').trim()) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return null;
  }
}

/** The node's keys, made on first use, and the pair a rotation replaced (if any). */
export function loadKeys(stateDir: string): NodeKeys & { previous: NodeKeys | null } {
  const file = keyFile(stateDir);
  const current = readKey(file) ?? rotate(stateDir);
  return { ...current, previous: readKey(`${file}.prev`) };
}

/** Replaces the node's key pair (`hypernet agent rotate-key`). */
export function rotate(stateDir: string): NodeKeys {
  const file = keyFile(stateDir);
  // The state dir with the usual mode first (dnsmasq, running as another user, reads files under it);
  // only the key's own directory is private.
  mkdirSync(stateDir, { recursive: true });
  mkdirSync(join(stateDir, 'wireguard'), { recursive: true, mode: 0o700 });
  const priv = newPrivateKey();
  try {
    renameSync(file, `${file}.prev`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  // Synchronous: the agent needs its key before it registers. Temp file + rename: wg never reads half a key.
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${priv}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return { privateKeyFile: file, publicKey: publicKeyOf(priv) };
}
