/**
 * The device id of an agentless port or hyperswitch: the workload (VM) it serves. It names a
 * provider VM and, in the lab, a network namespace, so it is a plain word: a letter or digit, then
 * letters, digits, '-' or '_', 64 characters at most (UUIDs, `i-0abc…`, `vm-a`). No dots or slashes:
 * nothing that reads as a path.
 */
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const DEVICE_ID_RULE = "a letter or digit, then letters, digits, '-' or '_' (64 at most)";

export function isDeviceId(v: unknown): v is string {
  return typeof v === 'string' && DEVICE_ID.test(v);
}
