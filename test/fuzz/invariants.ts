/**
 * One fuzz step: resolve a generated request against the live store (symbolic refs → real ids of the
 * caller's, the other tenant's or anyone's objects), send it, and check the API's invariants:
 *  - never a 5xx (and always an answer);
 *  - every 4xx carries `{"NeutronError": {type, message, detail}}` and leaves the store unchanged;
 *  - a tenant never sees another tenant's private ids (but those an admin linked into its own objects,
 *    as Neutron shows them), and its request never changes, creates or removes another project's
 *    objects (so no write on the other's ids succeeds);
 *  - after an accepted write, the whole model still compiles in the agent (AgentCheck).
 */
import type { TestServer } from '../server/helpers.js';
import type { AgentCheck } from './agent-check.js';
import type { FuzzRequest } from './arbitraries.js';
import { bigIntToIp, parseCidr } from '../../src/model/grammar/addresses.js';
import { isAddr, isRef, type Addr, type Ref } from './refs.js';
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
function resolveRef(r: Ref, view: StoreView, caller: string | undefined): string {
  const project = r.project ?? caller;
  let list = view.lists[r.$ref] ?? [];
  if (r.on) {
    const net = networkOf(r.on, view, project);
    list = list.filter((o) => o.network_id === net);
  }
  const mine = (o: (typeof list)[number]) => (o.project_id ?? project) === project;
  const pick =
    r.owner === 'any' || project === undefined
      ? list
      : r.owner === 'usable'
        ? list.filter((o) => mine(o) || o.shared === true)
        : r.owner === 'external'
          ? list.filter((o) => o['router:external'] === true)
          : list.filter((o) => (o.project_id ?? project) === (r.owner === 'own' ? project : OTHER[project]));
  return pick.length ? pick[r.i % pick.length].id : MISSING_ID;
}

/** The network a Ref names: the network itself, or the one its port or subnet is on. */
function networkOf(r: Ref, view: StoreView, project: string | undefined): string {
  const id = resolveRef(r, view, project);
  if (r.$ref === 'networks') return id;
  return String(view.lists[r.$ref]?.find((o) => o.id === id)?.network_id ?? MISSING_ID);
}

/** The address or CIDR an Addr names for the subnet its Ref resolves to (see refs.ts). */
function resolveAddr(a: Addr, view: StoreView, project: string | undefined): string {
  const id = resolveRef(a.$addr, view, project);
  const cidr = view.lists.subnets.find((o) => o.id === id)?.cidr;
  const c = parseCidr(typeof cidr === 'string' ? cidr : '10.0.0.0/24');
  const k = BigInt(a.k);
  switch (a.form) {
    case 'cidr':
      return c.text;
    case 'outside':
      return c.version === 4 ? `192.0.2.${1n + (k % 254n)}` : `2001:db8:ffff::${(k + 1n).toString(16)}`;
    case 'route':
      if (k % 7n === 0n) return c.version === 4 ? '0.0.0.0/0' : '::/0';
      return c.version === 4 ? `198.51.${k % 256n}.0/24` : `2001:db8:${(0x100n + k).toString(16)}::/48`;
    case 'host': {
      // 2 + k past the network address (past a default gateway); wrapped into a small subnet.
      const span = c.last - c.network;
      const off = 2n + k < span ? 2n + k : 1n + ((1n + k) % (span > 1n ? span - 1n : 1n));
      return bigIntToIp(c.network + off, c.version);
    }
  }
}

function resolveDeep(v: unknown, view: StoreView, project: string | undefined): unknown {
  if (isRef(v)) return resolveRef(v, view, project);
  if (isAddr(v)) return resolveAddr(v, view, project);
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

/** Stats keys of accepted writes (counted apart from the answer classes, per resource). */
const WRITE = 'write ';

/** The counts of a run, one line: answer classes, then the requests sent and the accepted writes per resource. */
export const statsLine = (m: Map<string, number>): string => {
  const sorted = [...m].sort(([a], [b]) => (a < b ? -1 : 1));
  const answers = sorted.filter(([k]) => !k.startsWith(WRITE)).map(([k, n]) => `${k}: ${n}`);
  const requests = sorted.filter(([k]) => /^\d/.test(k)).reduce((sum, [, n]) => sum + n, 0);
  const writes = sorted.filter(([k]) => k.startsWith(WRITE));
  const total = writes.reduce((sum, [, n]) => sum + n, 0);
  const perResource = writes.map(([k, n]) => `${k.slice(WRITE.length)} ${n}`).join(', ');
  return `${answers.join(', ')} | ${requests} requests, accepted writes ${total}: ${perResource || 'none'}`;
};

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** `project|id` for each id of another project that an object of `project` names (a rule's remote group …). */
function crossLinks(v: StoreView): Set<string> {
  const owner = new Map<string, unknown>();
  for (const list of Object.values(v.lists)) for (const o of list) owner.set(o.id, o.project_id);
  const out = new Set<string>();
  for (const list of Object.values(v.lists)) {
    for (const o of list) {
      for (const id of JSON.stringify(o).match(UUID) ?? []) {
        const other = owner.get(id);
        if (other !== undefined && other !== o.project_id) out.add(`${o.project_id}|${id}`);
      }
    }
  }
  return out;
}

/**
 * Per server, the links an admin made from one project's objects to another's (only an admin may:
 * say a rule of pb's group with pa's group as remote group). The owner of the linking object sees the
 * linked id with it, as in Neutron; a link a tenant's own request made is never in here.
 */
const adminLinks = new WeakMap<TestServer, Set<string>>();

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
  const resource = raw.path.split('?')[0].split('/')[2] ?? '';
  const errorType = (res.json as { NeutronError?: { type?: string } } | undefined)?.NeutronError?.type ?? '-';
  bump(d.stats, `${res.status} ${raw.method} ${res.status < 300 ? resource : errorType}`);
  if (res.status < 300 && raw.method !== 'GET' && raw.method !== 'HEAD') bump(d.stats, `${WRITE}${resource}`);
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
  const linked = adminLinks.get(d.s) ?? new Set<string>();
  adminLinks.set(d.s, linked);
  if (r.who === 'admin' && after.revision !== before.revision) {
    const was = crossLinks(before);
    for (const l of crossLinks(after)) if (!was.has(l)) linked.add(l);
  }
  if (project && r.who !== 'admin' && res.status < 300) {
    const foreign = [...privateIds(before, OTHER[project], project), ...privateIds(after, OTHER[project], project)];
    const leaked = foreign.filter((id) => res.text.includes(id) && !linked.has(`${project}|${id}`));
    if (leaked.length) d.v.report(`other tenant's id in answer: ${shape(raw)}`, `${answer}\n    leaked ${leaked[0]}`);
    const changed = othersChanged(before, after, project);
    if (changed.length) d.v.report(`changed another project's object: ${shape(raw)}`, `${answer}\n    ${changed[0]}`);
  }
  if (d.agent && res.status < 300 && raw.method !== 'GET' && after.revision !== before.revision) {
    bump(d.stats, 'agent checks');
    const problem = await d.agent.check(d.s, after);
    if (problem)
      d.v.report(`agent cannot compile: ${problem.split('\n')[0].slice(0, 80)}`, `${answer}\n    ${problem}`);
  }
}
