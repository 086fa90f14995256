/**
 * How a benchmark ends: it exits non-zero when it could not run (not root) or when a target was
 * missed, and says which, so a script or CI running it cannot mistake a miss for a pass.
 */

/** Exits 2 with a message unless running as root (the benchmark builds network namespaces). */
export function requireRoot(bench: string): void {
  if (process.getuid?.() === 0) return;
  console.error(`${bench} needs root (network namespaces): not run`);
  process.exit(2);
}

/** The targets of one benchmark run: each check is recorded; `finish` reports the misses. */
export class Targets {
  private readonly missed: string[] = [];

  /** Records target `name`; returns the word for the summary line. */
  check(name: string, ok: boolean): 'met' | 'NOT met' {
    if (!ok) this.missed.push(name);
    return ok ? 'met' : 'NOT met';
  }

  /** Prints the missed targets (if any) and sets a non-zero exit code for them. */
  finish(bench: string): void {
    if (this.missed.length === 0) {
      console.log(`${bench}: all targets met`);
      return;
    }
    console.error(`${bench}: target(s) missed:\n${this.missed.map((m) => `  - ${m}`).join('\n')}`);
    process.exitCode = 1;
  }
}

/** Runs a benchmark's main; an error (it could not run to the end) exits 1. */
export function runBench(main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
