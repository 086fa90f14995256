/**
 * `MaxResults`/`NextToken` pagination of the Describe actions. A token is opaque to the client; here it
 * carries the action and the offset, so one from another action (or made up) is InvalidPaginationToken.
 */
import { faults } from './errors.js';
import { int, str, type Params } from './query.js';

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

/** `limits`: the action's allowed MaxResults range (EC2's reference gives one per action). */
export function paginate<T>(action: string, p: Params, all: T[], limits: { min: number; max: number }): Page<T> {
  const max = int(p, 'MaxResults');
  if (max !== undefined && (max < limits.min || max > limits.max))
    throw faults.invalidValue('MaxResults', String(max), `It must be between ${limits.min} and ${limits.max}.`);
  const token = str(p, 'NextToken');
  let offset = 0;
  if (token) {
    try {
      const t = JSON.parse(Buffer.from(token, 'base64url').toString()) as { a?: string; o?: number };
      if (t.a !== action || typeof t.o !== 'number' || t.o < 0) throw new Error('not ours');
      offset = t.o;
    } catch {
      throw faults.badToken();
    }
  }
  const size = max ?? limits.max;
  const items = all.slice(offset, offset + size);
  const next = offset + size < all.length ? offset + size : undefined;
  return {
    items,
    nextToken:
      next === undefined ? undefined : Buffer.from(JSON.stringify({ a: action, o: next })).toString('base64url'),
  };
}
