/**
 * A small client of Keystone's identity API v3: password authentication (a project-scoped token and
 * its expiry), token validation with a service token (what keystonemiddleware does for Neutron), and
 * the few admin calls a lab or a test needs to stand up users, roles and the service catalog.
 */

/** A user's password credentials scoped to one project, as in `[keystone_authtoken]` or clouds.yaml. */
export interface PasswordCredentials {
  /** Keystone's URL, e.g. `http://127.0.0.1:5000/v3` (a missing `/v3` is added). */
  authUrl: string;
  username: string;
  password: string;
  projectName: string;
  userDomainName?: string;
  projectDomainName?: string;
}

/** The parts of a v3 token body hypernet reads. */
export interface TokenBody {
  expires_at: string;
  issued_at?: string;
  user: { id: string; name: string };
  project?: { id: string; name: string };
  roles?: { id: string; name: string }[];
}

export interface IssuedToken {
  token: string;
  /** Expiry in epoch milliseconds. */
  expiresAtMs: number;
  body: TokenBody;
}

/** Keystone answered, but not as expected (status 0: it did not answer at all). */
export class KeystoneError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'KeystoneError';
  }
}

export type Validation = { kind: 'valid'; token: TokenBody } | { kind: 'invalid' } | { kind: 'service-unauthorized' };

/** `http://h:p` or `http://h:p/v3/` → `http://h:p/v3`. */
export function v3Url(authUrl: string): string {
  const base = authUrl.replace(/\/+$/, '');
  return base.endsWith('/v3') ? base : `${base}/v3`;
}

async function call(
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: unknown },
  timeoutMs: number,
): Promise<Response> {
  try {
    return await fetch(url, {
      method: init.method,
      headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new KeystoneError(0, `Keystone at ${url} did not answer: ${(e as Error).message}`);
  }
}

/** Password authentication, scoped to the project: the token and when it expires. */
export async function issueToken(c: PasswordCredentials, timeoutMs = 10_000): Promise<IssuedToken> {
  const res = await call(
    `${v3Url(c.authUrl)}/auth/tokens`,
    {
      method: 'POST',
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: { name: c.username, domain: { name: c.userDomainName ?? 'Default' }, password: c.password },
            },
          },
          scope: { project: { name: c.projectName, domain: { name: c.projectDomainName ?? 'Default' } } },
        },
      },
    },
    timeoutMs,
  );
  const token = res.headers.get('x-subject-token');
  if (res.status !== 201 || !token) {
    throw new KeystoneError(res.status, `Keystone refused the password of ${c.username}: HTTP ${res.status}`);
  }
  const body = ((await res.json()) as { token: TokenBody }).token;
  return { token, expiresAtMs: Date.parse(body.expires_at), body };
}

/**
 * Validates `subject` with the service's own token. 404 (unknown, expired, revoked) is invalid;
 * 401/403 mean the service token itself is no good (the caller renews it and asks again).
 */
export async function validateToken(
  authUrl: string,
  serviceToken: string,
  subject: string,
  timeoutMs = 10_000,
): Promise<Validation> {
  const res = await call(
    `${v3Url(authUrl)}/auth/tokens`,
    { method: 'GET', headers: { 'x-auth-token': serviceToken, 'x-subject-token': subject } },
    timeoutMs,
  );
  if (res.status === 200) return { kind: 'valid', token: ((await res.json()) as { token: TokenBody }).token };
  await res.body?.cancel();
  if (res.status === 404 || res.status === 400) return { kind: 'invalid' };
  if (res.status === 401 || res.status === 403) return { kind: 'service-unauthorized' };
  throw new KeystoneError(res.status, `Keystone answered HTTP ${res.status} to a token validation`);
}

/** The admin calls of a lab or test: projects, users, role grants, the catalog, revocation. */
export class KeystoneAdmin {
  private readonly base: string;
  constructor(
    authUrl: string,
    private readonly token: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.base = v3Url(authUrl);
  }

  private async json<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    const res = await call(
      `${this.base}${path}`,
      { method, body, headers: { 'x-auth-token': this.token, ...headers } },
      this.timeoutMs,
    );
    if (res.status >= 300) {
      throw new KeystoneError(res.status, `Keystone ${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    }
    return (res.status === 204 ? undefined : await res.json()) as T;
  }

  private async idByName(collection: string, name: string): Promise<string | undefined> {
    const r = await this.json<Record<string, { id: string }[]>>(
      'GET',
      `/${collection}?name=${encodeURIComponent(name)}`,
    );
    return r[collection][0]?.id;
  }

  /** The project's id, created in the default domain when missing. */
  async ensureProject(name: string): Promise<string> {
    const found = await this.idByName('projects', name);
    if (found) return found;
    const r = await this.json<{ project: { id: string } }>('POST', '/projects', {
      project: { name, domain_id: 'default' },
    });
    return r.project.id;
  }

  /** The user's id, created in the default domain when missing (the password is set either way). */
  async ensureUser(name: string, password: string): Promise<string> {
    const found = await this.idByName('users', name);
    if (found) {
      await this.json('PATCH', `/users/${found}`, { user: { password } });
      return found;
    }
    const r = await this.json<{ user: { id: string } }>('POST', '/users', {
      user: { name, password, domain_id: 'default' },
    });
    return r.user.id;
  }

  /** The role's id, created when missing. */
  async ensureRole(name: string): Promise<string> {
    return (
      (await this.idByName('roles', name)) ??
      (await this.json<{ role: { id: string } }>('POST', '/roles', { role: { name } })).role.id
    );
  }

  async grant(projectId: string, userId: string, role: string): Promise<void> {
    const roleId = await this.ensureRole(role);
    await this.json('PUT', `/projects/${projectId}/users/${userId}/roles/${roleId}`);
  }

  /** Registers (or re-points) `type` in the catalog with one public, internal and admin endpoint. */
  async registerService(type: string, name: string, url: string, region = 'RegionOne'): Promise<void> {
    const regions = await this.json<{ regions: { id: string }[] }>('GET', '/regions');
    if (!regions.regions.some((r) => r.id === region)) await this.json('POST', '/regions', { region: { id: region } });
    const services = await this.json<{ services: { id: string }[] }>('GET', `/services?type=${type}`);
    const serviceId =
      services.services[0]?.id ??
      (await this.json<{ service: { id: string } }>('POST', '/services', { service: { type, name } })).service.id;
    const eps = await this.json<{ endpoints: { id: string }[] }>('GET', `/endpoints?service_id=${serviceId}`);
    for (const ep of eps.endpoints) await this.json('DELETE', `/endpoints/${ep.id}`);
    for (const iface of ['public', 'internal', 'admin']) {
      await this.json('POST', '/endpoints', {
        endpoint: { service_id: serviceId, interface: iface, url, region_id: region },
      });
    }
  }

  /** Revokes a token at once (`DELETE /v3/auth/tokens`). */
  async revoke(subject: string): Promise<void> {
    await this.json('DELETE', '/auth/tokens', undefined, { 'x-subject-token': subject });
  }
}
