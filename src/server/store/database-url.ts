/**
 * `--database` URLs: `postgresql://[user[:password]@]host[:port]/database[?…]` (also `postgres://`).
 * Checked before anything connects so a typo is a clear error at start, and shown only with the
 * password masked (logs and error messages must not leak it).
 */

/** The URL, checked; throws an Error saying what is wrong. */
export function checkDatabaseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`--database must be a URL like postgresql://user@host:5432/hypernet, not '${redactUrl(raw)}'`);
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:')
    throw new Error(`--database must be a postgresql:// URL, not ${url.protocol}// ('${redactUrl(raw)}')`);
  if (!url.hostname) throw new Error(`--database URL has no host: '${redactUrl(raw)}'`);
  const db = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!db || db.includes('/')) throw new Error(`--database URL must name one database: '${redactUrl(raw)}'`);
  if (url.port && !(Number(url.port) >= 1 && Number(url.port) <= 65535))
    throw new Error(`--database URL has a bad port: '${redactUrl(raw)}'`);
  return url;
}

/** The URL with its password replaced by `***` (for messages); unparsable input is cut to its scheme. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return raw.replace(/:\/\/.*$/, '://…');
  }
}
