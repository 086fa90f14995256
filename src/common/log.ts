/** Structured logging (pino). A Logger is passed in, never imported as a singleton. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level: string = process.env.HYPERNET_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level });
}

/** A logger that drops everything: for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
