/**
 * EC2's ClientToken: a retried call with the same token and the same parameters returns the first
 * call's result and changes nothing; the same token with other parameters is IdempotentParameterMismatch.
 */
import { faults } from './errors.js';
import type { Params } from './query.js';
import type { Ec2State } from './state.js';

/** The parameters that define the request (not the token, not the signature-related ones). */
const fingerprint = (action: string, p: Params): string =>
  JSON.stringify([action, [...p].filter(([k]) => k !== 'ClientToken' && k !== 'Version').sort()]);

/** Runs `make` once per token; without a token every call runs. */
export async function once<T>(state: Ec2State, action: string, p: Params, make: () => Promise<T> | T): Promise<T> {
  const token = p.get('ClientToken');
  if (!token) return make();
  const key = `${action}\0${token}`;
  const fp = fingerprint(action, p);
  const seen = state.tokens.get(key);
  if (seen) {
    if (seen.fingerprint !== fp) throw faults.idempotentMismatch();
    return seen.body as T;
  }
  const body = await make();
  state.tokens.set(key, { fingerprint: fp, body });
  return body;
}
