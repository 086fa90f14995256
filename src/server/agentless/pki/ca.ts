/**
 * The certificate authority of agentless mode (the server is the CA). It issues one client
 * certificate per agentless port (CN = port id, SAN IP = the port's provider IP, EKU clientAuth),
 * the hyperswitch server certificates (EKU serverAuth, SAN = vms IPs), revokes, and signs the CRL
 * that OpenVPN's `crl-verify` reads. Issuing is idempotent: asking again for a port's certificate
 * returns the valid one already issued, so callers can be level-triggered. It also keeps the
 * WireGuard key pairs of WireGuard agentless ports and of the hyperswitches serving them (made the
 * same way: once, then returned again; a client's is revoked with its certificate).
 */
import * as x509 from '@peculiar/x509';
import type { Clock } from '../../../common/clock.js';
import { realClock } from '../../../common/clock.js';
import { KEY_ALGORITHM, generateKeyPair, privateKeyFromPem, privateKeyToPem, randomSerial } from './keys.js';
import type { CertKind, IssuedCert, PkiState, PkiStorage } from './storage.js';
import { newPrivateKey, publicKeyOf } from '../../../model/wg-keypair.js';

const DAY = 86_400_000;

export interface CaOptions {
  clock?: Clock;
  /** Subject CN of a new CA. */
  name?: string;
  caValidityDays?: number;
  certValidityDays?: number;
  /** How long a CRL is valid; OpenSSL refuses every client once the CRL has expired. */
  crlValidityDays?: number;
}

/** What OpenVPN needs for one endpoint: its certificate and key, and the CA certificate. */
export interface CertBundle {
  serial: string;
  cn: string;
  certPem: string;
  keyPem: string;
  caPem: string;
}

export class CertificateAuthority {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly storage: PkiStorage,
    private state: PkiState,
    private readonly caKey: CryptoKey,
    private readonly caCert: x509.X509Certificate,
    private readonly opts: Required<CaOptions>,
  ) {}

  /** Loads the CA from `storage`, creating (and saving) a new one when there is none. */
  static async open(storage: PkiStorage, options: CaOptions = {}): Promise<CertificateAuthority> {
    const opts: Required<CaOptions> = {
      clock: options.clock ?? realClock,
      name: options.name ?? 'hypernet agentless CA',
      caValidityDays: options.caValidityDays ?? 7300,
      certValidityDays: options.certValidityDays ?? 3650,
      crlValidityDays: options.crlValidityDays ?? 3650,
    };
    let state = await storage.load();
    if (!state) {
      const keys = await generateKeyPair();
      const now = opts.clock.now();
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: randomSerial(),
        name: [{ CN: [opts.name] }],
        notBefore: new Date(now - DAY),
        notAfter: new Date(now + opts.caValidityDays * DAY),
        keys,
        signingAlgorithm: KEY_ALGORITHM,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ],
      });
      state = { caKeyPem: await privateKeyToPem(keys.privateKey), caCertPem: pem(cert), issued: [] };
      await storage.save(state);
    }
    const caKey = await privateKeyFromPem(state.caKeyPem);
    return new CertificateAuthority(storage, state, caKey, new x509.X509Certificate(state.caCertPem), opts);
  }

  get caPem(): string {
    return this.state.caCertPem;
  }

  /** Every certificate issued so far (valid and revoked). */
  issued(): readonly IssuedCert[] {
    return this.state.issued;
  }

  /** The valid client certificate of an agentless port, issuing one if needed. */
  issueClient(req: { portId: string; providerIp: string }): Promise<CertBundle> {
    return this.serial(() =>
      this.issue('client', req.portId, (c) => c.providerIp === req.providerIp, {
        providerIp: req.providerIp,
        san: [{ type: 'ip', value: req.providerIp }],
        eku: x509.ExtendedKeyUsage.clientAuth,
      }),
    );
  }

  /** The valid server certificate of a hyperswitch (`name`), with its vms IPs in the SAN. */
  issueServer(req: { name: string; ips: string[] }): Promise<CertBundle> {
    const ips = [...req.ips].sort();
    return this.serial(() =>
      this.issue('server', req.name, (c) => JSON.stringify(c.ips) === JSON.stringify(ips), {
        ips,
        san: [{ type: 'dns', value: req.name }, ...ips.map((value) => ({ type: 'ip' as const, value }))],
        eku: x509.ExtendedKeyUsage.serverAuth,
      }),
    );
  }

  /**
   * Revokes every valid client certificate of `portId` (a deleted agentless port), and its WireGuard
   * key pair. Returns the revoked serials; the caller then pushes `crlPem()` to the hyperswitches.
   */
  revokeClient(portId: string): Promise<string[]> {
    return this.serial(async () => {
      const now = new Date(this.opts.clock.now()).toISOString();
      const hit = this.state.issued.filter((c) => c.kind === 'client' && c.cn === portId && !c.revokedAt);
      const keys = (this.state.wireguard ?? []).filter((k) => k.kind === 'client' && k.cn === portId && !k.revokedAt);
      for (const c of [...hit, ...keys]) c.revokedAt = now;
      if (hit.length || keys.length) await this.storage.save(this.state);
      return hit.map((c) => c.serial);
    });
  }

  /** The valid WireGuard key pair of an agentless port (client) or a hyperswitch (server), made if needed. */
  wgKey(kind: CertKind, cn: string): Promise<{ privateKey: string; publicKey: string }> {
    return this.serial(async () => {
      this.state.wireguard ??= [];
      let k = this.state.wireguard.find((x) => x.kind === kind && x.cn === cn && !x.revokedAt);
      if (!k) {
        k = { kind, cn, privateKey: newPrivateKey() };
        this.state.wireguard.push(k);
        await this.storage.save(this.state);
      }
      return { privateKey: k.privateKey, publicKey: publicKeyOf(k.privateKey) };
    });
  }

  isRevoked(serial: string): boolean {
    return this.state.issued.some((c) => c.serial === serial.toLowerCase() && c.revokedAt);
  }

  /** A freshly signed CRL listing every revoked serial, PEM labelled `X509 CRL` (what OpenSSL reads). */
  async crlPem(): Promise<string> {
    const now = this.opts.clock.now();
    const crl = await x509.X509CrlGenerator.create({
      issuer: this.caCert.subject,
      thisUpdate: new Date(now - 60_000),
      nextUpdate: new Date(now + this.opts.crlValidityDays * DAY),
      signingKey: this.caKey,
      signingAlgorithm: KEY_ALGORITHM,
      // Every entry carries a reason: an entry with an empty extension list is invalid DER to OpenSSL.
      entries: this.state.issued
        .filter((c) => c.revokedAt)
        .map((c) => ({
          serialNumber: c.serial,
          revocationDate: new Date(c.revokedAt!),
          reason: x509.X509CrlReason.cessationOfOperation,
        })),
    });
    return `${x509.PemConverter.encode(crl.rawData, 'X509 CRL')}\n`;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async issue(
    kind: CertKind,
    cn: string,
    same: (c: IssuedCert) => boolean,
    spec: { providerIp?: string; ips?: string[]; san: x509.JsonGeneralName[]; eku: x509.ExtendedKeyUsage },
  ): Promise<CertBundle> {
    const now = this.opts.clock.now();
    const existing = this.state.issued.find(
      (c) => c.kind === kind && c.cn === cn && !c.revokedAt && Date.parse(c.notAfter) > now && same(c),
    );
    if (existing) return this.bundle(existing);
    const keys = await generateKeyPair();
    const notAfter = new Date(now + this.opts.certValidityDays * DAY);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: [{ CN: [cn] }],
      issuer: this.caCert.subject,
      notBefore: new Date(now - DAY),
      notAfter,
      publicKey: keys.publicKey,
      signingKey: this.caKey,
      signingAlgorithm: KEY_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([spec.eku]),
        new x509.SubjectAlternativeNameExtension(spec.san),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.caCert),
      ],
    });
    const entry: IssuedCert = {
      serial: cert.serialNumber.toLowerCase(),
      kind,
      cn,
      ...(spec.providerIp ? { providerIp: spec.providerIp } : {}),
      ...(spec.ips ? { ips: spec.ips } : {}),
      certPem: pem(cert),
      keyPem: await privateKeyToPem(keys.privateKey),
      notAfter: notAfter.toISOString(),
    };
    this.state.issued.push(entry);
    await this.storage.save(this.state);
    return this.bundle(entry);
  }

  private bundle(c: IssuedCert): CertBundle {
    return { serial: c.serial, cn: c.cn, certPem: c.certPem, keyPem: c.keyPem, caPem: this.state.caCertPem };
  }
}

function pem(cert: x509.X509Certificate): string {
  return `${cert.toString('pem')}\n`;
}
