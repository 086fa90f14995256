/**
 * WireGuard key pairs made with node:crypto (raw X25519 in base64, WireGuard's format), so neither
 * the agent (its node key) nor the server (the agentless hyperswitch and client keys) needs `wg genkey`.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { isWgKey } from './encryption.js';

const b64 = (b64url: string): string => Buffer.from(b64url, 'base64url').toString('base64');

/** A new private key (base64). */
export function newPrivateKey(): string {
  const { privateKey } = generateKeyPairSync('x25519');
  return b64(privateKey.export({ format: 'jwk' }).d as string);
}

/** The public key of a private key (both base64), as `wg pubkey` computes it. */
export function publicKeyOf(privateKey: string): string {
  if (!isWgKey(privateKey)) throw new Error('not a WireGuard private key');
  const d = Buffer.from(privateKey, 'base64').toString('base64url');
  const priv = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d, x: '' }, format: 'jwk' });
  return b64(createPublicKey(priv).export({ format: 'jwk' }).x as string);
}
