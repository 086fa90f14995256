/**
 * A byte-count progress bar for transfers (`image push`, `image pull`): on a terminal one line on
 * stderr redrawn in place, at most every 100 ms, e.g. "[#####      ] 12.5/48.0 MiB pushing web";
 * elsewhere (scripts, pipes) nothing.
 */
import { type ProgressStream, progressBar } from './progress.js';

const mib = (n: number) => (n / 1024 / 1024).toFixed(1);

/** One transfer line. Pure. */
export function transferLine(done: number, total: number | undefined, label: string): string {
  if (total === undefined) return `${mib(done)} MiB ${label}`;
  return `${progressBar(done, total)} ${mib(done)}/${mib(total)} MiB ${label}`;
}

export interface TransferProgress {
  update(done: number, total?: number): void;
  /** Clears the line. */
  end(): void;
}

export function transferProgress(stream: ProgressStream, label: string, now = () => Date.now()): TransferProgress {
  const tty = stream.isTTY === true;
  const cols = Math.max(40, stream.columns ?? 80);
  let last = 0;
  return {
    update(done, total) {
      if (!tty || (now() - last < 100 && done !== total)) return;
      last = now();
      stream.write(
        `\r${transferLine(done, total, label)
          .slice(0, cols - 1)
          .padEnd(cols - 1)}`,
      );
    },
    end() {
      if (tty) stream.write('\r\x1b[K');
    },
  };
}
