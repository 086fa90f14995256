/**
 * Key material for the agentless PKI: ECDSA P-256 key pairs (accepted by OpenVPN 2.6 / OpenSSL 3),
 * their PKCS#8 PEM form, and random positive serial numbers. WebCrypto only (Node 20's globalThis.crypto).
 */
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/** The one signature/key algorithm of the PKI. */
export const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

const subtle = webcrypto.subtle as unknown as SubtleCrypto;
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** PKCS#8 "PRIVATE KEY" PEM, what OpenVPN's `key` / `<key>` reads. */
export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = await subtle.exportKey('pkcs8', key);
  return `${x509.PemConverter.encode(der, 'PRIVATE KEY')}\n`;
}

export async function privateKeyFromPem(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  if (!der) throw new Error('no PEM block in private key');
  return subtle.importKey('pkcs8', der, KEY_ALGORITHM, true, ['sign']);
}

/** 16 random bytes as hex, high bit cleared (DER INTEGER stays positive) and never all-zero. */
export function randomSerial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return Buffer.from(b).toString('hex');
}
