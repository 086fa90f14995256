/**
 * Who is calling. `noauth`: everyone is admin, acting for the project named in the body (project_id /
 * tenant_id) or the default project. `token`: X-Auth-Token looked up in the tokens file
 * (`{"TOKEN": {"project_id", "roles"}}`); a missing or unknown token is 401. `keystone`: the token is
 * validated by Keystone (keystone-auth.ts, asynchronously, before routing); a tokens file may sit
 * beside it for agents and other services with static tokens, looked up first.
 * Roles map the same way in every mode (Neutron's default roles): `admin` is admin, `member` may
 * write in its project, a caller with neither (`reader`) may only read.
 */
import { readFileSync } from 'node:fs';
import { faults, NeutronFault } from './errors.js';

export interface TokenInfo {
  project_id: string;
  roles: string[];
}

export type AuthConfig =
  | { mode: 'noauth'; defaultProjectId: string }
  | { mode: 'token'; tokens: Record<string, TokenInfo> }
  | { mode: 'keystone'; keystone: TokenValidator; tokens?: Record<string, TokenInfo> };

/** Who answers for tokens in keystone mode (keystone-auth.ts's KeystoneTokens). */
export interface TokenValidator {
  /** The token's project and roles; undefined when refused; throws a 503 fault when it cannot tell. */
  lookup(token: string): Promise<TokenInfo | undefined>;
  /** The `WWW-Authenticate` value of a 401. */
  readonly challenge: string;
}

export interface Caller {
  isAdmin: boolean;
  /** The caller's own project (noauth: the default project). */
  projectId: string;
  /** Neither admin nor member (Neutron's `reader`): GET only. */
  readOnly?: boolean;
}

/** The one role → policy mapping, for the tokens file and Keystone alike. */
export function callerOf(info: TokenInfo): Caller {
  const isAdmin = info.roles.includes('admin');
  return { isAdmin, projectId: info.project_id, readOnly: !isAdmin && !info.roles.includes('member') };
}

/** What Keystone said about one request's token, kept until the route asks for the caller. */
const keystoneOutcome = new WeakMap<object, Caller | NeutronFault>();

/**
 * Keystone mode's asynchronous step, run for every request before routing (a fastify onRequest
 * hook): a token that is not a static one is validated now, and the route's `authenticate` reads
 * the answer. Requests without a token cost nothing; they are 401 where a caller is needed.
 */
export async function prevalidate(auth: AuthConfig, request: object, token: string | undefined): Promise<void> {
  if (auth.mode !== 'keystone' || token === undefined || auth.tokens?.[token]) return;
  try {
    const info = await auth.keystone.lookup(token);
    keystoneOutcome.set(request, info ? callerOf(info) : faults.unauthorized());
  } catch (e) {
    if (!(e instanceof NeutronFault)) throw e;
    keystoneOutcome.set(request, e);
  }
}

/** The `WWW-Authenticate` header of a 401, when the mode has one (keystone). */
export function challengeOf(auth: AuthConfig): string | undefined {
  return auth.mode === 'keystone' ? auth.keystone.challenge : undefined;
}

export function loadTokens(file: string): Record<string, TokenInfo> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, TokenInfo>;
}

/** The caller of a request (`request`: the raw request `prevalidate` saw, in keystone mode). */
export function authenticate(auth: AuthConfig, token: string | undefined, request?: object): Caller {
  if (auth.mode === 'noauth') return { isAdmin: true, projectId: auth.defaultProjectId };
  const info = token === undefined ? undefined : auth.tokens?.[token];
  if (info) return callerOf(info);
  if (auth.mode === 'keystone' && request !== undefined && token !== undefined) {
    const outcome = keystoneOutcome.get(request);
    if (outcome instanceof NeutronFault) throw outcome;
    if (outcome) return outcome;
  }
  throw faults.unauthorized();
}

/** The project a new object belongs to: the body's project_id/tenant_id (admin only if foreign) or the caller's. */
export function owningProject(caller: Caller, body: { project_id?: string; tenant_id?: string }): string {
  const { project_id: p, tenant_id: t } = body;
  if (p !== undefined && t !== undefined && p !== t)
    throw faults.badRequest("'project_id' and 'tenant_id' do not match");
  const wanted = p ?? t;
  if (wanted === undefined) return caller.projectId;
  if (wanted !== caller.projectId && !caller.isAdmin) {
    throw faults.badRequest(
      "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires " +
        'admin privileges',
    );
  }
  return wanted;
}
