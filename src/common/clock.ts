/** Time, injected: real code takes a Clock so tests can control it. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts (its timer then goes, not kept to the end). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((r) => {
      if (signal?.aborted) return r();
      const t = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      function done(): void {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        r();
      }
    }),
};

/** Neutron's timestamp format: ISO-8601 in UTC without milliseconds, e.g. 2026-11-21T05:01:19Z. */
export function neutronTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
