/**
 * Where the CLI finds its server: `--url`/`--token` flags, then `HYPERNET_URL`/`HYPERNET_TOKEN`,
 * then the config file (`--config FILE`, else `$XDG_CONFIG_HOME/hypernet/config.yaml`, else
 * `~/.config/hypernet/config.yaml`), else `http://127.0.0.1:9696` without a token.
 * The config file is YAML: `url: http://host:9696` and `token: SECRET`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { serverUrls } from '../client/api.js';
import { UsageError } from './errors.js';

export const DEFAULT_URL = 'http://127.0.0.1:9696';

export interface ConnectionFlags {
  url?: string;
  token?: string;
  config?: string;
}

export interface Connection {
  url: string;
  token?: string;
}

export function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'hypernet', 'config.yaml');
}

function readConfigFile(path: string, explicit: boolean): Connection | Partial<Connection> {
  if (!existsSync(path)) {
    if (explicit) throw new UsageError(`config file not found: ${path}`);
    return {};
  }
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new UsageError(`config file ${path}: expected a mapping with url and token`);
  const { url, token } = doc as Record<string, unknown>;
  if (url !== undefined && typeof url !== 'string') throw new UsageError(`config file ${path}: url must be a string`);
  if (token !== undefined && typeof token !== 'string')
    throw new UsageError(`config file ${path}: token must be a string`);
  return { url, token };
}

/** Resolves the endpoint and token: flags, then environment, then config file, then the default. */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  const file = readConfigFile(flags.config ?? defaultConfigPath(env), flags.config !== undefined);
  const url = flags.url ?? (env.HYPERNET_URL || undefined) ?? file.url ?? DEFAULT_URL;
  const token = flags.token ?? (env.HYPERNET_TOKEN || undefined) ?? file.token;
  // Several servers (comma-separated) are tried in turn by the client (client/api.ts).
  for (const one of serverUrls(url)) {
    if (one.startsWith('unix:')) continue;
    try {
      const u = new URL(one);
      if (u.protocol !== 'http:') throw new Error(`unsupported scheme ${u.protocol}`);
    } catch (e) {
      throw new UsageError(`bad server URL ${JSON.stringify(one)}: ${(e as Error).message}`);
    }
  }
  if (serverUrls(url).length === 0) throw new UsageError(`bad server URL ${JSON.stringify(url)}: empty`);
  return token ? { url, token } : { url };
}
