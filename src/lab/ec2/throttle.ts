/**
 * RequestLimitExceeded as EC2 applies it: a token bucket per access key (EC2 throttles per account and
 * region), and faults a test injects on purpose (the next N calls of an action fail with a given code).
 */
import type { Clock } from '../../common/clock.js';

export interface RateLimit {
  /** Tokens added per second. */
  perSecond: number;
  /** Bucket size (the burst allowed). */
  burst: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {}

  /** Takes one token for `key`; false when the bucket is empty. */
  take(key: string): boolean {
    const now = this.clock.now();
    const b = this.buckets.get(key) ?? { tokens: this.limit.burst, at: now };
    b.tokens = Math.min(this.limit.burst, b.tokens + ((now - b.at) / 1000) * this.limit.perSecond);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

/** A fault to return instead of running an action: `times` calls of `action` ('*': any) fail with `code`. */
export interface InjectedFault {
  action: string;
  code: string;
  times: number;
}

export class FaultQueue {
  private readonly faults: InjectedFault[] = [];

  add(f: InjectedFault): void {
    this.faults.push({ ...f });
  }

  /** The code the call of `action` fails with, if any (consumes one). */
  next(action: string): string | undefined {
    const f = this.faults.find((x) => x.times > 0 && (x.action === '*' || x.action === action));
    if (!f) return undefined;
    f.times--;
    return f.code;
  }
}
