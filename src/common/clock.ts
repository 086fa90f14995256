/** Time, injected: real code takes a Clock so tests can control it. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** Neutron's timestamp format: ISO-8601 in UTC without milliseconds, e.g. 2026-11-21T05:01:19Z. */
export function neutronTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
