/**
 * Bulk operations with a progress display: `hypernet port delete A B C …`, `port create --count N`.
 * On a terminal, one bar redrawn in place on stderr; otherwise (scripts, pipes) no bar. Each failure
 * is reported on its own line and the others go on; the caller exits 1 if any failed.
 */

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** One progress line, e.g. "[#######             ] 7/20 deleting port web-7". Pure. */
export function progressLine(done: number, total: number, label: string, width = 20): string {
  return `${progressBar(done, total, width)} ${done}/${total} ${label}`;
}

/** The bar alone, e.g. "[#######             ]". Pure. */
export function progressBar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? width : Math.min(width, Math.round((done / total) * width));
  return `[${'#'.repeat(filled)}${' '.repeat(width - filled)}]`;
}

export interface BulkResult<R> {
  ok: R[];
  failed: { item: string; error: unknown }[];
}

/**
 * Runs `fn` for each item with at most `concurrency` at once, showing progress on `stream` when it
 * is a TTY; failures are printed (one line each, via `errorLine`) and collected.
 */
export async function runBulk<R>(
  items: readonly string[],
  verb: string,
  fn: (item: string, index: number) => Promise<R>,
  stream: ProgressStream,
  errorLine: (e: unknown) => string,
  concurrency = 4,
): Promise<BulkResult<R>> {
  const result: BulkResult<R> = { ok: [], failed: [] };
  const tty = stream.isTTY === true && items.length > 1;
  const cols = Math.max(40, stream.columns ?? 80);
  let done = 0;
  const draw = (label: string) => {
    if (tty)
      stream.write(
        `\r${progressLine(done, items.length, label)
          .slice(0, cols - 1)
          .padEnd(cols - 1)}`,
      );
  };
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      draw(`${verb} ${items[i]}`);
      try {
        result.ok.push(await fn(items[i], i));
      } catch (e) {
        result.failed.push({ item: items[i], error: e });
        if (tty) stream.write('\r\x1b[K');
        stream.write(`${errorLine(e)} (${items[i]})\n`);
      }
      done++;
      draw(`${verb} ${items[i]}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (tty) stream.write('\r\x1b[K');
  return result;
}
