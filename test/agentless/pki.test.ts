/**
 * The agentless CA: create and reload from a directory, client and server certificates parsed back
 * (CN, SAN, EKU, signature by the CA), idempotent issuing, and revocation showing up in a CRL that
 * both @peculiar/x509 and OpenSSL (`openssl verify -crl_check`, what OpenVPN uses) read.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { realExec } from '../../src/common/exec.js';
import { CertificateAuthority } from '../../src/server/agentless/pki/ca.js';
import { dirStorage, memoryStorage } from '../../src/server/agentless/pki/storage.js';

const PORT = '5d6e7f80-1111-4222-8333-944455556666';

describe('agentless PKI', () => {
  it('creates a CA in a directory and loads the same CA back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hn-pki-'));
    try {
      const a = await CertificateAuthority.open(dirStorage(dir));
      const b = await CertificateAuthority.open(dirStorage(dir));
      assert.equal(a.caPem, b.caPem);
      assert.equal((await stat(join(dir, 'ca.key'))).mode & 0o777, 0o600);
      const ca = new x509.X509Certificate(a.caPem);
      assert.equal(ca.subject, 'CN=hypernet agentless CA');
      assert.ok(await ca.verify({ signatureOnly: true }));
      assert.equal(ca.getExtension(x509.BasicConstraintsExtension)?.ca, true);
      // a client issued by the first instance is known to the reloaded one
      const c = await a.issueClient({ portId: PORT, providerIp: '198.51.100.10' });
      const again = await CertificateAuthority.open(dirStorage(dir));
      assert.equal((await again.issueClient({ portId: PORT, providerIp: '198.51.100.10' })).serial, c.serial);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('issues a client certificate per port: CN = port id, SAN = provider IP, clientAuth, signed by the CA', async () => {
    const ca = await CertificateAuthority.open(memoryStorage());
    const b = await ca.issueClient({ portId: PORT, providerIp: '198.51.100.10' });
    const cert = new x509.X509Certificate(b.certPem);
    assert.equal(cert.subject, `CN=${PORT}`);
    assert.equal(cert.serialNumber.toLowerCase(), b.serial);
    assert.deepEqual(cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON(), [
      { type: 'ip', value: '198.51.100.10' },
    ]);
    assert.deepEqual(
      [...(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [])],
      [x509.ExtendedKeyUsage.clientAuth],
    );
    assert.ok(await cert.verify({ publicKey: new x509.X509Certificate(ca.caPem).publicKey }));
    assert.match(b.keyPem, /^-----BEGIN PRIVATE KEY-----/);
    // idempotent for the same port and IP; a new provider IP means a new certificate
    assert.equal((await ca.issueClient({ portId: PORT, providerIp: '198.51.100.10' })).serial, b.serial);
    assert.notEqual((await ca.issueClient({ portId: PORT, providerIp: '198.51.100.11' })).serial, b.serial);
  });

  it('issues the hyperswitch server certificate with serverAuth and its vms IPs', async () => {
    const ca = await CertificateAuthority.open(memoryStorage());
    const b = await ca.issueServer({ name: 'hs-1', ips: ['198.51.100.1', '192.0.2.1'] });
    const cert = new x509.X509Certificate(b.certPem);
    assert.equal(cert.subject, 'CN=hs-1');
    assert.deepEqual(
      [...(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [])],
      [x509.ExtendedKeyUsage.serverAuth],
    );
    assert.deepEqual(
      cert
        .getExtension(x509.SubjectAlternativeNameExtension)
        ?.names.toJSON()
        .map((n) => n.value),
      ['hs-1', '192.0.2.1', '198.51.100.1'],
    );
  });

  it('revokes a port: its serial is in the signed CRL and OpenSSL refuses the certificate', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hn-crl-'));
    try {
      const ca = await CertificateAuthority.open(memoryStorage());
      const keep = await ca.issueClient({ portId: 'other-port', providerIp: '198.51.100.12' });
      const b = await ca.issueClient({ portId: PORT, providerIp: '198.51.100.10' });
      const emptyCrl = await ca.crlPem();
      assert.deepEqual(await ca.revokeClient(PORT), [b.serial]);
      assert.deepEqual(await ca.revokeClient(PORT), []);
      assert.ok(ca.isRevoked(b.serial));
      const pem = await ca.crlPem();
      assert.match(pem, /^-----BEGIN X509 CRL-----\n/);
      const crl = new x509.X509Crl(pem.replace(/X509 CRL/g, 'CRL'));
      assert.ok(crl.findRevoked(b.serial));
      assert.equal(crl.findRevoked(keep.serial), null);
      assert.ok(await crl.verify({ publicKey: new x509.X509Certificate(ca.caPem).publicKey }));
      // a revoked port gets a fresh certificate when it is issued again
      assert.notEqual((await ca.issueClient({ portId: PORT, providerIp: '198.51.100.10' })).serial, b.serial);

      await writeFile(join(dir, 'ca.pem'), ca.caPem);
      await writeFile(join(dir, 'crl0.pem'), emptyCrl);
      await writeFile(join(dir, 'crl.pem'), pem);
      await writeFile(join(dir, 'revoked.pem'), b.certPem);
      await writeFile(join(dir, 'kept.pem'), keep.certPem);
      const verify = (crl: string, cert: string) =>
        realExec(
          'openssl',
          ['verify', '-crl_check', '-CAfile', join(dir, 'ca.pem'), '-CRLfile', join(dir, crl), join(dir, cert)],
          { allowFail: true },
        );
      assert.equal((await verify('crl0.pem', 'revoked.pem')).code, 0, 'valid before revocation');
      const r = await verify('crl.pem', 'revoked.pem');
      assert.notEqual(r.code, 0);
      assert.match(r.stdout + r.stderr, /certificate revoked/);
      assert.equal((await verify('crl.pem', 'kept.pem')).code, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
