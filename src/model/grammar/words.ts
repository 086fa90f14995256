/**
 * Words that go into a program's config file or command line (OpenVPN configs, hook scripts):
 * anything with whitespace, quotes or a backslash is refused instead of quoted, so no value can
 * start a new directive.
 */

/** Returns `v` when it is a plain word; throws naming `what` otherwise. */
export function assertWord(what: string, v: string): string {
  if (!v || /[\s"'\\]/.test(v)) throw new Error(`${what} is not a plain word: ${JSON.stringify(v)}`);
  return v;
}
