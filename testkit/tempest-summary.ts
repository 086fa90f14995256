/**
 * Reads tempest's console output (subunit-trace): the totals, every skip with its reason, the failed
 * tests, and the most frequent failure messages (ids blanked so equal causes count together).
 */

export interface TempestSummary {
  totals: string;
  skips: { test: string; reason: string }[];
  failed: string[];
  /** Failure messages (first line of each `Details:` or exception), most frequent first. */
  causes: [string, number][];
}

export function summarize(out: string): TempestSummary {
  const skips: { test: string; reason: string }[] = [];
  const failed: string[] = [];
  for (const line of out.split('\n')) {
    const skip = /^\{\d+\} (.+?)(?: \[[\d.]+s\])? \.\.\. SKIPPED: (.*)$/.exec(line);
    if (skip) skips.push({ test: skip[1], reason: skip[2] });
    const fail = /^\{\d+\} (.+?) \[[\d.]+s\] \.\.\. FAILED$/.exec(line);
    if (fail) failed.push(fail[1]);
  }
  // subunit-trace prints each failure twice, as it happens and again after this line: count the second.
  const again = /^Failed \d+ tests - output below:$/m.exec(out);
  const failures = again ? out.slice(again.index) : out;
  const counts = new Map<string, number>();
  // tempest's own exceptions are followed by their `Details:` line, counted below; other ones (assertions) here.
  for (const m of failures.matchAll(/^\s*((?:[\w.]+Error|[\w.]+Exception|[\w.]+MismatchError): .*)$/gm)) {
    const key = m[1].replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>').slice(0, 200);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  for (const m of failures.matchAll(/^Details: (.*)$/gm)) {
    const key = `Details: ${m[1]}`.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>').slice(0, 200);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const totals =
    /Totals\s*\n=+\s*\n([\s\S]*?)(?:\n\s*\n|\s*$)/.exec(out)?.[1]?.trim() ?? '(no totals: tempest did not finish)';
  const causes = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 15);
  return { totals, skips, failed, causes };
}

/**
 * The extension a skip names when tempest skipped for want of it ("network extension: X is not
 * enabled", "X extension not enabled."); undefined for any other reason.
 */
export function skippedExtension(reason: string): string | undefined {
  return (/network extension: (\S+) is not enabled/.exec(reason) ?? /^(\S+) extension not enabled/.exec(reason))?.[1];
}
