/**
 * Words and text as the whole system reads them. Values that go into a program's config file or
 * command line (OpenVPN configs, hook scripts, dnsmasq options, `bridge -batch` lines) must be plain
 * words: anything with whitespace, quotes, a backslash or a control character is refused instead of
 * quoted, so no value can start a new directive. Host and cloud names have a stricter grammar still.
 * Free text (names, descriptions, tags) must be well-formed UTF-16 (no lone surrogate, which JSON
 * clients cannot decode), and tags may not hold `,` or `/` (Neutron's rule) or control characters.
 */

/** Returns `v` when it is a plain word; throws naming `what` otherwise. */
export function assertWord(what: string, v: string): string {
  if (!isWord(v)) throw new Error(`${what} is not a plain word: ${JSON.stringify(v)}`);
  return v;
}

/** Non-empty, printable, and without whitespace, quotes or a backslash. */
export function isWord(v: unknown): v is string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  return typeof v === 'string' && v.length > 0 && !/[\s"'\\\u0000-\u001f\u007f]/.test(v) && isWellFormed(v);
}

const HOST_RE = /^[A-Za-z0-9_]([A-Za-z0-9._-]{0,253}[A-Za-z0-9_])?$/;

/** A host name (agent `host`, `binding:host_id`) or cloud name: letters, digits, `.`, `_`, `-`, ≤ 255. */
export function isHostName(v: unknown): v is string {
  return typeof v === 'string' && HOST_RE.test(v);
}

/** No lone UTF-16 surrogate (which would be stored, then break every JSON client that lists it). */
export function isWellFormed(v: string): boolean {
  return !LONE_SURROGATE.test(v);
}
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `tag` is not a valid tag, or undefined when it is. */
export function tagProblem(tag: string): string | undefined {
  if (tag.length === 0 || tag.length > 60) return 'a tag must be 1 to 60 characters';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (/[,/\u0000-\u001f\u007f]/.test(tag)) return "a tag may not contain ',', '/' or control characters";
  if (!isWellFormed(tag)) return 'a tag must be well-formed text';
  return undefined;
}
