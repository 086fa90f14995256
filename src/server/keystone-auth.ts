/**
 * `--auth keystone`: what keystonemiddleware's auth_token does in front of Neutron. A token is
 * validated with `GET /v3/auth/tokens` (X-Subject-Token) under the server's own service token, got
 * by password auth and renewed before it expires. Answers are cached briefly (valid ones for
 * token_cache_time, refused ones for negative_cache_time), keyed by the token's SHA-256 so no raw
 * token sits in memory longer than its request. Keystone not answering is a 503, as in Neutron.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import {
  issueToken,
  KeystoneError,
  validateToken,
  type IssuedToken,
  type PasswordCredentials,
} from '../client/keystone.js';
import type { TokenInfo, TokenValidator } from './auth.js';
import type { KeystoneAuthtokenConfig } from './config.js';
import { NeutronFault } from './errors.js';

/** Most cached answers kept; the oldest go first (a flood of random tokens must not grow memory). */
const CACHE_LIMIT = 10_000;

interface Cached {
  info: TokenInfo | undefined;
  untilMs: number;
}

export class KeystoneTokens implements TokenValidator {
  private readonly cache = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<TokenInfo | undefined>>();
  private service: IssuedToken | undefined;
  private serviceInflight: Promise<IssuedToken> | undefined;
  private readonly creds: PasswordCredentials;

  constructor(
    readonly config: KeystoneAuthtokenConfig,
    private readonly clock: Clock,
    private readonly log?: Logger,
  ) {
    this.creds = {
      authUrl: config.authUrl,
      username: config.username,
      password: config.password,
      projectName: config.projectName,
      userDomainName: config.userDomainName,
      projectDomainName: config.projectDomainName,
    };
  }

  /** The `WWW-Authenticate` value of a 401, pointing clients at Keystone. */
  get challenge(): string {
    return `Keystone uri="${this.config.wwwAuthenticateUri}"`;
  }

  /** The token's project and roles, or undefined when Keystone refuses it; 503 when Keystone is unreachable. */
  async lookup(token: string): Promise<TokenInfo | undefined> {
    const key = createHash('sha256').update(token).digest('hex');
    const now = this.clock.now();
    const hit = this.cache.get(key);
    if (hit && hit.untilMs > now) return hit.info;
    if (hit) this.cache.delete(key);
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.ask(token, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private async ask(token: string, key: string): Promise<TokenInfo | undefined> {
    const c = this.config;
    let answer = await this.validate(token, await this.serviceToken());
    if (answer.kind === 'service-unauthorized') {
      // Revoked or rotated under us: one fresh service token, then Keystone's answer stands.
      this.service = undefined;
      answer = await this.validate(token, await this.serviceToken());
      if (answer.kind === 'service-unauthorized') throw this.unavailable('Keystone refused the service token');
    }
    const now = this.clock.now();
    let info: TokenInfo | undefined;
    let untilMs = now + c.negativeCacheTime * 1000;
    if (answer.kind === 'valid' && answer.token.project) {
      info = { project_id: answer.token.project.id, roles: (answer.token.roles ?? []).map((r) => r.name) };
      untilMs = Math.min(now + c.tokenCacheTime * 1000, Date.parse(answer.token.expires_at));
    }
    if (untilMs > now) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, { info, untilMs });
    }
    return info;
  }

  private async validate(token: string, service: string) {
    try {
      return await validateToken(this.config.authUrl, service, token, this.config.httpConnectTimeout * 1000);
    } catch (e) {
      throw this.unavailable((e as Error).message);
    }
  }

  /** The service's own token, renewed when less than half its life (at most five minutes) is left. */
  private async serviceToken(): Promise<string> {
    const s = this.service;
    if (s) {
      const life = s.expiresAtMs - Date.parse(s.body.issued_at ?? s.body.expires_at);
      const margin = Math.min(300_000, life / 2);
      if (s.expiresAtMs - this.clock.now() > margin) return s.token;
    }
    if (!this.serviceInflight) {
      this.serviceInflight = issueToken(this.creds, this.config.httpConnectTimeout * 1000)
        .catch((e: unknown) => {
          const why =
            e instanceof KeystoneError && e.status === 0 ? e.message : `service login: ${(e as Error).message}`;
          throw this.unavailable(why);
        })
        .finally(() => {
          this.serviceInflight = undefined;
        });
    }
    this.service = await this.serviceInflight;
    return this.service.token;
  }

  /** Neutron (keystonemiddleware) answers 503 when it cannot check a token; the reason goes to the log only. */
  private unavailable(why: string): NeutronFault {
    this.log?.warn({ why }, 'cannot validate a token with Keystone');
    return new NeutronFault(503, 'ServiceUnavailable', 'The authentication service is not available.');
  }
}
