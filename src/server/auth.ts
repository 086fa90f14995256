/**
 * Who is calling. `noauth`: everyone is admin, acting for the project named in the body (project_id /
 * tenant_id) or the default project. `token`: X-Auth-Token looked up in the tokens file
 * (`{"TOKEN": {"project_id", "roles"}}`); a missing or unknown token is 401; role `admin` is admin.
 */
import { readFileSync } from 'node:fs';
import { faults } from './errors.js';

export interface TokenInfo {
  project_id: string;
  roles: string[];
}

export type AuthConfig =
  | { mode: 'noauth'; defaultProjectId: string }
  | { mode: 'token'; tokens: Record<string, TokenInfo> };

export interface Caller {
  isAdmin: boolean;
  /** The caller's own project (noauth: the default project). */
  projectId: string;
}

export function loadTokens(file: string): Record<string, TokenInfo> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, TokenInfo>;
}

export function authenticate(auth: AuthConfig, token: string | undefined): Caller {
  if (auth.mode === 'noauth') return { isAdmin: true, projectId: auth.defaultProjectId };
  const info = token === undefined ? undefined : auth.tokens[token];
  if (!info) throw faults.unauthorized();
  return { isAdmin: info.roles.includes('admin'), projectId: info.project_id };
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
