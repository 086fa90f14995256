/**
 * Request latency as a VM sees it: one curl in a namespace makes `n` GETs of a URL, each on a new
 * connection (`Connection: close`, as cloud-init's separate requests), and reports each one's total
 * time from curl's own clock, so the cost of starting programs is not in the figures.
 */
import type { Exec } from '../src/common/exec.js';

export interface CurlTimes {
  /** Milliseconds per request, in order. */
  ms: number[];
  /** HTTP status → how many requests got it (`000`: no answer). */
  codes: Record<string, number>;
}

export async function curlTimes(exec: Exec, ns: string, url: string, n: number): Promise<CurlTimes> {
  const args = ['-sS', '-m', '5', '-H', 'Connection: close', '-w', '%{http_code} %{time_total}\\n'];
  for (let i = 0; i < n; i++) args.push('-o', '/dev/null', url);
  const r = await exec('ip', ['netns', 'exec', ns, 'curl', ...args], {
    allowFail: true,
    timeoutMs: n * 5_000 + 10_000,
  });
  const out: CurlTimes = { ms: [], codes: {} };
  for (const line of r.stdout.split('\n')) {
    const m = /^(\d{3}) ([\d.]+)$/.exec(line.trim());
    if (!m) continue;
    out.codes[m[1]!] = (out.codes[m[1]!] ?? 0) + 1;
    out.ms.push(Number(m[2]) * 1000);
  }
  return out;
}
