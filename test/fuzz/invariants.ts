/**
 * One fuzz step: resolve a generated request against the live store (symbolic refs → real ids of the
 * caller's, the other tenant's or anyone's objects), send it, and check the API's invariants:
 *  - never a 5xx (and always an answer);
 *  - every 4xx carries `{"NeutronError": {type, message, detail}}` and leaves the store unchanged;
 *  - a tenant never sees another tenant's private ids, and its request never changes, creates or
 *    removes another project's objects (so no write on the other's ids succeeds);
 *  - after an accepted write, the whole model still compiles in the agent (AgentCheck).
 */
import type { TestServer } from '../server/helpers.js';
import type { AgentCheck } from './agent-check.js';
import { isRef, type FuzzRequest, type Ref } from './arbitraries.js';
import {
  clip,
  isNeutronError,
  othersChanged,
  PROJECT_OF,
  privateIds,
  send,
  storeView,
  TOKEN_OF,
  type RawRequest,
  type StoreView,
  type Violations,
} from './harness.js';

const OTHER: Record<string, string> = { pa: 'pb', pb: 'pa', pc: 'pa', ops: 'pa' };
const MISSING_ID = '00000000-0000-4000-8000-00000000f00d';

/** The id a Ref names in `view` for a caller of `project` (a fixed unknown id when there is none). */
function resolveRef(r: Ref, view: StoreView, project: string | undefined): string {
  const list = view.lists[r.$ref] ?? [];
  const pick =
    r.owner === 'any' || project === undefined
      ? list
      : list.filter((o) => (o.project_id ?? project) === (r.owner === 'own' ? project : OTHER[project]));
  return pick.length ? pick[r.i % pick.length].id : MISSING_ID;
}

function resolveDeep(v: unknown, view: StoreView, project: string | undefined): unknown {
  if (isRef(v)) return resolveRef(v, view, project);
  if (Array.isArray(v)) return v.map((x) => resolveDeep(x, view, project));
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      // keeps `__proto__` an own key of the body that is sent
      Object.defineProperty(out, k, { value: resolveDeep(x, view, project), enumerable: true, writable: true });
    }
    return out;
  }
  return v;
}

/** The concrete HTTP request of a generated one, ids taken from `view`. */
export function concrete(r: FuzzRequest, view: StoreView): RawRequest {
  const project = PROJECT_OF[r.who];
  const path = r.path.map((p) => (typeof p === 'string' ? p : resolveRef(p, view, project))).join('');
  const headers: Record<string, string> = { ...r.headers };
  const token = TOKEN_OF[r.who];
  if (token !== undefined) headers['x-auth-token'] = token;
  let body: string | undefined;
  if (r.body.kind === 'json') body = JSON.stringify(resolveDeep(r.body.value, view, project));
  else if (r.body.kind === 'raw') body = r.body.text;
  if (body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  return { method: r.method, path: r.query ? `${path}?${r.query}` : path, headers, body };
}

/** One line naming a request: enough to send it again by hand. */
export function describeRequest(raw: RawRequest): string {
  const body =
    raw.body === undefined
      ? ''
      : ` ${raw.body.length > 300 ? `${raw.body.slice(0, 300)}…(${raw.body.length})` : raw.body}`;
  const h = Object.entries(raw.headers)
    .filter(([k]) => k !== 'content-type' || raw.headers[k] !== 'application/json')
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
  const path = raw.path.length > 300 ? `${raw.path.slice(0, 300)}…(${raw.path.length})` : raw.path;
  return `${raw.method} ${path} [${h}]${body}`;
}

/** A short stable name for a failing shape (route template), so collect mode groups equal findings. */
function shape(raw: RawRequest): string {
  const parts = raw.path.split('?')[0].split('/');
  // /v2.0/<resource>/<id>/<sub>/<key>…: ids and keys become {x}
  const route = parts.map((p, i) => (i >= 3 && i % 2 === 1 && p !== '' ? '{x}' : p)).join('/');
  return `${raw.method} ${route.length > 60 ? `${route.slice(0, 60)}…` : route}`;
}

/** The error code fastify put in a body that is not Neutron's (what tells such findings apart). */
function nonNeutronKind(res: { status: number; json: unknown; text: string }): string {
  const code = (res.json as { code?: unknown } | undefined)?.code;
  return `${res.status} ${typeof code === 'string' ? code : res.text.slice(0, 30)}`;
}

export interface StepDeps {
  s: TestServer;
  v: Violations;
  agent?: AgentCheck;
  /** Counts by answer class (`201 POST networks`, …) and agent checks, printed at the end of a run. */
  stats?: Map<string, number>;
}

const bump = (m: Map<string, number> | undefined, k: string) => m?.set(k, (m.get(k) ?? 0) + 1);

/** The counts of a run, one line. */
export const statsLine = (m: Map<string, number>): string =>
  [...m]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');

/** Sends one generated request and checks every invariant (see the module comment). */
export async function step(d: StepDeps, r: FuzzRequest): Promise<void> {
  const before = await storeView(d.s);
  const raw = concrete(r, before);
  const what = `${r.who}: ${describeRequest(raw)}`;
  let res: Awaited<ReturnType<typeof send>>;
  try {
    res = await send(d.s, raw, { fresh: true });
  } catch (e) {
    d.v.report(`no answer: ${shape(raw)}`, clip(`${what}\n    → ${(e as Error).message}`));
    return;
  }
  bump(
    d.stats,
    res.status < 300
      ? `${res.status} ${raw.method} ${raw.path.split('?')[0].split('/')[2] ?? ''}`
      : `${res.status} ${raw.method} ${(res.json as { NeutronError?: { type?: string } } | undefined)?.NeutronError?.type ?? '-'}`,
  );
  const answer = clip(`${what}\n    → ${res.status} ${res.text.slice(0, 300)}`);
  if (res.status >= 500) d.v.report(`5xx: ${shape(raw)} ${res.status}`, answer);
  const after = await storeView(d.s);
  if (res.status >= 400) {
    // HEAD answers carry no body by definition.
    if (res.status < 500 && raw.method !== 'HEAD' && !isNeutronError(res.json))
      d.v.report(`4xx without NeutronError: ${nonNeutronKind(res)}`, answer);
    if (after.revision !== before.revision || JSON.stringify(after.lists) !== JSON.stringify(before.lists))
      d.v.report(`rejected but store changed: ${shape(raw)} ${res.status}`, answer);
  }
  const project = PROJECT_OF[r.who];
  if (project && r.who !== 'admin' && res.status < 300) {
    const foreign = [...privateIds(before, OTHER[project], project), ...privateIds(after, OTHER[project], project)];
    const leaked = foreign.filter((id) => res.text.includes(id));
    if (leaked.length) d.v.report(`other tenant's id in answer: ${shape(raw)}`, `${answer}\n    leaked ${leaked[0]}`);
    const changed = othersChanged(before, after, project);
    if (changed.length) d.v.report(`changed another project's object: ${shape(raw)}`, `${answer}\n    ${changed[0]}`);
  }
  if (d.agent && res.status < 300 && raw.method !== 'GET' && after.revision !== before.revision) {
    bump(d.stats, 'agent checks');
    const problem = await d.agent.check(d.s);
    if (problem)
      d.v.report(`agent cannot compile: ${problem.split('\n')[0].slice(0, 80)}`, `${answer}\n    ${problem}`);
  }
}
