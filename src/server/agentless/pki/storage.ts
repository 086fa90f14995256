/**
 * Where the agentless PKI keeps its state: the CA key and certificate and the register of issued
 * certificates (with their keys: an agentless port's user_data must be rebuildable on every read).
 * `dirStorage` keeps it in a directory (mode 0700, files written atomically); the server may later
 * pass a storage backed by its database instead.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../../common/files.js';
import { join } from 'node:path';

export type CertKind = 'client' | 'server';

/** One certificate the CA signed. */
export interface IssuedCert {
  /** Hex serial, lower case, as in the certificate. */
  serial: string;
  kind: CertKind;
  /** Subject CN: the agentless port id (client) or the hyperswitch name (server). */
  cn: string;
  /** Client certificates: the provider IP of the agentless port (also in the SAN). */
  providerIp?: string;
  /** Server certificates: the IPs in the SAN (the hyperswitch's vms IPs). */
  ips?: string[];
  certPem: string;
  keyPem: string;
  notAfter: string;
  /** ISO time of revocation; absent while valid. */
  revokedAt?: string;
}

/** A WireGuard key pair the server made: a WireGuard agentless port's (client) or a hyperswitch's (server). */
export interface WgKeyRecord {
  kind: CertKind;
  /** The agentless port id (client) or the hyperswitch name (server). */
  cn: string;
  privateKey: string;
  /** ISO time of revocation (the port was deleted or moved); absent while valid. */
  revokedAt?: string;
}

export interface PkiState {
  caKeyPem: string;
  caCertPem: string;
  issued: IssuedCert[];
  /** Absent in state saved before WireGuard agentless ports existed. */
  wireguard?: WgKeyRecord[];
}

export interface PkiStorage {
  load(): Promise<PkiState | undefined>;
  save(state: PkiState): Promise<void>;
}

/** State as `ca.key`, `ca.crt` and `issued.json` in `dir`. */
export function dirStorage(dir: string): PkiStorage {
  return {
    async load() {
      let caKeyPem: string;
      try {
        caKeyPem = await readFile(join(dir, 'ca.key'), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
      const caCertPem = await readFile(join(dir, 'ca.crt'), 'utf8');
      const issued = JSON.parse(await readFile(join(dir, 'issued.json'), 'utf8')) as IssuedCert[];
      const wg = await readFile(join(dir, 'wireguard.json'), 'utf8').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return '[]';
        throw e;
      });
      return { caKeyPem, caCertPem, issued, wireguard: JSON.parse(wg) as WgKeyRecord[] };
    },
    async save(state) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(join(dir, 'issued.json'), `${JSON.stringify(state.issued, null, 1)}\n`);
      await writeFileAtomic(join(dir, 'wireguard.json'), `${JSON.stringify(state.wireguard ?? [], null, 1)}\n`);
      await writeFileAtomic(join(dir, 'ca.crt'), state.caCertPem, 0o644);
      await writeFileAtomic(join(dir, 'ca.key'), state.caKeyPem);
    },
  };
}

/** State in memory only (tests, throwaway labs). */
export function memoryStorage(): PkiStorage {
  let state: PkiState | undefined;
  return {
    load: async () => (state ? structuredClone(state) : undefined),
    save: async (s) => {
      state = structuredClone(s);
    },
  };
}
