/**
 * An OpenSSH public key line as cloud-init writes it into authorized_keys: a known key type, the
 * base64 blob, and an optional comment of printable characters. One line only, so a key cannot
 * smuggle another authorized_keys entry (or options) into the file.
 */
const TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
];

const BLOB = /^[A-Za-z0-9+/]+={0,2}$/;
const COMMENT = /^[\x21-\x7e]([\x20-\x7e]{0,254})$/;

export const SSH_KEY_RULE = 'an OpenSSH public key line: "<type> <base64> [comment]", printable ASCII, one line';

export function isSshPublicKey(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > 16384) return false;
  const [type, blob, ...rest] = v.split(' ');
  if (!TYPES.includes(type) || blob === undefined || !BLOB.test(blob)) return false;
  const comment = rest.join(' ');
  return comment === '' || COMMENT.test(comment);
}
