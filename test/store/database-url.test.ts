/** `--database` URLs: what is accepted, what is refused with which message, and passwords never shown. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkDatabaseUrl, redactUrl } from '../../src/server/store/database-url.js';

describe('database URLs', () => {
  it('accepts postgresql:// and postgres:// URLs naming a host and one database', () => {
    for (const u of [
      'postgresql://hypernet@db.example:5432/hypernet',
      'postgres://u:p@127.0.0.1/db?sslmode=require',
      'postgresql://[::1]:6543/hn',
    ])
      assert.equal(checkDatabaseUrl(u).href, new URL(u).href);
  });

  it('refuses other schemes, a missing host or database, a bad port, and hides the password', () => {
    const refused: [string, RegExp][] = [
      ['mysql://u@h/db', /must be a postgresql:\/\/ URL, not mysql:/],
      ['db.example/hypernet', /must be a URL like postgresql:/],
      ['postgresql://u:pw@h:5432/', /must name one database/],
      ['postgresql://u:pw@h:5432/a/b', /must name one database/],
      ['postgresql://u:pw@h:99999/db', /must be a URL like/],
      ['postgresql:///db', /has no host/],
    ];
    for (const [u, re] of refused) {
      assert.throws(() => checkDatabaseUrl(u), re, u);
      assert.throws(
        () => checkDatabaseUrl(u),
        (e: Error) => !e.message.includes(':pw@'),
        u,
      );
    }
  });

  it('masks the password when showing a URL', () => {
    assert.equal(redactUrl('postgresql://u:s3cret@h:5432/db'), 'postgresql://u:***@h:5432/db');
    assert.equal(redactUrl('postgresql://u@h/db'), 'postgresql://u@h/db');
    assert.equal(redactUrl('not a url://u:s3cret@h'), 'not a url://…');
  });
});
