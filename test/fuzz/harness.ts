/**
 * The fuzz suite's harness: a real server under token auth (admin ADMIN, tenants ALICE and BOB), a raw
 * HTTP sender (any method, path bytes, headers and body text: what a hostile client can send), the
 * admin's full view of the store (to tell "rejected and unchanged" and "another tenant's objects
 * untouched"), and the fast-check run settings: `FUZZ_SEED` replays a run, the seed is printed at
 * start, and a failure prints the counterexample and the command that replays it.
 */
import http from 'node:http';
import fc from 'fast-check';
import type { TokenInfo } from '../../src/server/auth.js';
import { startTestServer, type TestServer } from '../server/helpers.js';

export const TOKENS: Record<string, TokenInfo> = {
  ADMIN: { project_id: 'ops', roles: ['admin'] },
  ALICE: { project_id: 'pa', roles: ['member'] },
  BOB: { project_id: 'pb', roles: ['member'] },
  // A tenant with no objects yet: its first requests take the lazy paths (default security group).
  CAROL: { project_id: 'pc', roles: ['member'] },
};
export type Who = 'admin' | 'alice' | 'bob' | 'carol' | 'nobody' | 'stranger';
export const TOKEN_OF: Record<Who, string | undefined> = {
  admin: 'ADMIN',
  alice: 'ALICE',
  bob: 'BOB',
  carol: 'CAROL',
  nobody: undefined,
  stranger: 'NOT-A-TOKEN',
};
export const PROJECT_OF: Partial<Record<Who, string>> = { alice: 'pa', bob: 'pb', carol: 'pc', admin: 'ops' };

/** Plural path segments of the resources in the store (and their list keys in a listing). */
export const RESOURCE_PATHS = [
  'networks',
  'subnets',
  'ports',
  'security-groups',
  'security-group-rules',
  'agents',
  'routers',
  'floatingips',
  'instances',
  'subnetpools',
  'hypervms',
];

export function startFuzzServer(): Promise<TestServer> {
  // Agents stay alive for the whole run (default 15 s), so the HyperVM node the world registers keeps taking launches.
  return startTestServer({ tokens: TOKENS, config: { agentDownTime: 3600 } });
}

export interface RawRequest {
  method: string;
  /** Path and query as sent on the request line (already escaped where needed). */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface RawResponse {
  status: number;
  text: string;
  json: unknown;
}

/** Admin reads share kept-alive connections; a fuzzed request gets its own (a hostile one may reset it). */
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** Escapes what node refuses on a request line (controls, spaces, non-ASCII), keeps everything else as is. */
export function requestLinePath(path: string): string {
  return path.replace(/[^\x21-\x7e]/gu, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return '%EF%BF%BD'; // a lone surrogate: what a browser would send
    }
  });
}

/** Sends one request; a streaming answer (the watch) is cut after its first bytes. */
export function send(
  s: TestServer,
  r: RawRequest,
  opts: { timeoutMs?: number; fresh?: boolean } = {},
): Promise<RawResponse> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const url = new URL(s.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent: opts.fresh ? false : keepAlive,
        host: url.hostname,
        port: url.port,
        method: r.method,
        path: requestLinePath(r.path),
        headers: { ...r.headers, ...(r.body === undefined ? {} : { 'content-length': Buffer.byteLength(r.body) }) },
        timeout: timeoutMs,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        const streaming = String(res.headers['content-type'] ?? '').includes('ndjson');
        res.on('data', (d: string) => {
          text += d;
          if (streaming) res.destroy();
        });
        const done = () => {
          let json: unknown;
          try {
            json = streaming ? JSON.parse(text.split('\n')[0] ?? '') : text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        };
        res.on('end', done);
        res.on('close', done);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms: ${r.method} ${r.path}`)));
    req.on('error', reject);
    req.end(r.body);
  });
}

/** A Neutron error body as the API must send it with every 4xx. */
export function isNeutronError(json: unknown): boolean {
  const e = (json as { NeutronError?: Record<string, unknown> } | undefined)?.NeutronError;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.type === 'string' &&
    typeof e.message === 'string' &&
    typeof e.detail === 'string'
  );
}

type Obj = Record<string, unknown> & { id: string; project_id?: string };
/** Everything an admin sees, by resource path, plus the store revision. */
export interface StoreView {
  revision: number;
  lists: Record<string, Obj[]>;
}

export async function storeView(s: TestServer): Promise<StoreView> {
  const lists: Record<string, Obj[]> = {};
  for (const p of RESOURCE_PATHS) {
    const r = await send(s, { method: 'GET', path: `/v2.0/${p}`, headers: { 'x-auth-token': 'ADMIN' } });
    if (r.status !== 200) throw new Error(`admin listing of ${p} failed: ${r.status} ${r.text.slice(0, 200)}`);
    const body = r.json as Record<string, Obj[]>;
    lists[p] = body[p.replace(/-/g, '_')] ?? [];
  }
  // Agents' `alive` is computed at read time; it is not state.
  for (const a of lists.agents) delete a.alive;
  const revision = await s.store.read((tx) => tx.revision());
  return { revision, lists };
}

/**
 * Ids of objects of `project` that tenant `viewer` must never see: all but shared and external
 * networks, the subnets of shared ones, shared subnet pools, and the ports on the viewer's own networks (a
 * network's owner sees them, as in Neutron).
 */
export function privateIds(v: StoreView, project: string, viewer: string): Set<string> {
  // External networks are everyone's to see, as shared ones; only shared networks' subnets are.
  const shared = new Set(v.lists.networks.filter((n) => n.shared || n['router:external']).map((n) => n.id));
  const sharedSubnets = new Set(v.lists.networks.filter((n) => n.shared).map((n) => n.id));
  const viewers = new Set(v.lists.networks.filter((n) => n.project_id === viewer).map((n) => n.id));
  const out = new Set<string>();
  for (const [path, list] of Object.entries(v.lists)) {
    for (const o of list) {
      if (o.project_id !== project) continue;
      if (path === 'networks' && shared.has(o.id)) continue;
      if (path === 'subnets' && sharedSubnets.has(o.network_id as string)) continue;
      if (path === 'subnetpools' && o.shared === true) continue;
      if (path === 'ports' && viewers.has(o.network_id as string)) continue;
      out.add(o.id);
    }
  }
  // What a port on the viewer's own network names (its groups, subnets, device) the viewer sees with
  // it, whoever owns the port (an admin may put one there naming another project's group).
  for (const p of v.lists.ports) {
    if (viewers.has(p.network_id as string))
      for (const id of JSON.stringify(p).match(/[0-9a-f]{8}-[0-9a-f-]{27}/g) ?? []) out.delete(id);
    // A router serving a shared network's subnet is the `router_id` of the floating IPs of every
    // project's ports there (as in Neutron), so its id is visible to the network's users.
    if (shared.has(p.network_id as string) && p.device_owner === 'network:router_interface')
      out.delete(p.device_id as string);
  }
  return out;
}

/** Objects of every project but `project` that differ between two views (changed, created or gone). */
export function othersChanged(before: StoreView, after: StoreView, project: string): string[] {
  const out: string[] = [];
  for (const path of RESOURCE_PATHS) {
    const key = (o: Obj) => `${path}/${o.id}`;
    const b = new Map(before.lists[path].filter((o) => o.project_id !== project).map((o) => [key(o), o]));
    const a = new Map(after.lists[path].filter((o) => o.project_id !== project).map((o) => [key(o), o]));
    if (path === 'agents') continue; // admin only: a tenant's request never reaches them
    for (const [k, o] of a) if (JSON.stringify(o) !== JSON.stringify(b.get(k))) out.push(k);
    for (const [k, o] of b) if (!a.has(k) && !goneWithOwnNetwork(path, o, before, after, project)) out.push(k);
  }
  return out.filter((k) => !followsOwnL3(k, before, after, project));
}

/**
 * Changes a project's own routers and floating IPs bring about in Neutron: their gateway and
 * floating-IP ports (which belong to no project), and another project's floating IP on one of the
 * project's ports (an admin may associate across projects) following that port: its details, or
 * its association when the port goes or gives up the address.
 */
function followsOwnL3(key: string, before: StoreView, after: StoreView, project: string): boolean {
  const [path, id] = key.split('/');
  const find = (v: StoreView, p: string, x: unknown) => v.lists[p]?.find((o) => o.id === x);
  if (path === 'ports') {
    const port = find(after, 'ports', id) ?? find(before, 'ports', id);
    if (port?.project_id !== '') return false;
    const owner =
      port.device_owner === 'network:floatingip'
        ? (find(after, 'floatingips', port.device_id) ?? find(before, 'floatingips', port.device_id))
        : (find(after, 'routers', port.device_id) ?? find(before, 'routers', port.device_id));
    return owner?.project_id === project;
  }
  if (path === 'floatingips') {
    // Its port is the project's: the floating IP follows that port's changes (details, deletion).
    const was = find(before, 'floatingips', id);
    const now = find(after, 'floatingips', id);
    const port = was && find(before, 'ports', was.port_id);
    return !!now && !!was && port?.project_id === project && (now.port_id === null || now.port_id === was.port_id);
  }
  return false;
}

/**
 * A subnet an admin put on a tenant's network goes when that tenant deletes its network, as in
 * Neutron: that is the network owner's right, not a change to another project's object.
 */
function goneWithOwnNetwork(path: string, o: Obj, before: StoreView, after: StoreView, project: string): boolean {
  if (path !== 'subnets') return false;
  const net = before.lists.networks.find((n) => n.id === o.network_id);
  return net?.project_id === project && !after.lists.networks.some((n) => n.id === o.network_id);
}

/** Seed of this run: FUZZ_SEED or a fresh one, printed so any run can be replayed. */
export function fuzzSeed(file: string): number {
  const fromEnv = process.env.FUZZ_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : (Date.now() ^ (Math.random() * 2 ** 31)) | 0;
  console.log(`# fuzz ${file}: seed ${seed} (replay: FUZZ_SEED=${seed} node --test dist/test/fuzz/${file}.test.js)`);
  return seed;
}

/**
 * Violations seen in collect mode (FUZZ_COLLECT=1: the run goes on after one and every distinct kind is
 * printed at the end), keyed by a short signature; in the normal mode the first one fails the property.
 */
export class Violations {
  readonly seen = new Map<string, { count: number; example: string }>();
  readonly collect = process.env.FUZZ_COLLECT === '1';

  report(signature: string, example: string): void {
    const hit = this.seen.get(signature);
    if (hit) hit.count++;
    else this.seen.set(signature, { count: 1, example });
    if (!this.collect) throw new Error(`${signature}\n${example}`);
  }

  summary(): string {
    return [...this.seen].map(([sig, v]) => `- ${sig} (x${v.count})\n    ${v.example}`).join('\n');
  }
}

/** Runs an async property with the suite's settings; on failure the error names the replay command. */
export async function checkProperty<T>(
  file: string,
  seed: number,
  arb: fc.Arbitrary<T>,
  predicate: (t: T) => Promise<void>,
  opts: { numRuns: number; timeLimitMs: number },
): Promise<void> {
  const result = await fc.check(fc.asyncProperty(arb, predicate), {
    seed,
    numRuns: opts.numRuns,
    interruptAfterTimeLimit: opts.timeLimitMs,
    markInterruptAsFailure: false,
    // Shrinking re-runs requests against the live server; FUZZ_NO_SHRINK=1 skips it for a quick look.
    endOnFailure: process.env.FUZZ_NO_SHRINK === '1',
  });
  if (result.failed) {
    const replay = `FUZZ_SEED=${seed} node --test dist/test/fuzz/${file}.test.js`;
    const cause = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
    throw new Error(
      `fuzz property failed after ${result.numRuns} runs\ncounterexample: ${brief(result.counterexample)}\n` +
        `${cause}\nreplay: ${replay}`,
    );
  }
}

/**
 * A counterexample short enough to print: hostile arrays repeat one object thousands of times, and
 * fc.stringify of such a value can pass V8's string limit and hide the real failure.
 */
export function brief(value: unknown): string {
  try {
    return clip(
      JSON.stringify(value, (_k, v: unknown) => {
        if (Array.isArray(v) && v.length > 8) return [...v.slice(0, 3), `…(${v.length} items)`];
        if (typeof v === 'string' && v.length > 200) return clip(v).slice(0, 200);
        return v;
      }) ?? String(value),
    );
  } catch (e) {
    return `(unprintable: ${(e as Error).message})`;
  }
}

/** Long runs of one character shortened (`x…(70000)`), so a counterexample stays readable. */
export function clip(text: string): string {
  return text.replace(/(.)\1{39,}/gsu, (run, c: string) => `${c.repeat(8)}…(${run.length})`);
}
