/**
 * The write stream of the failure tests (several servers, one killed): writers that create, move and
 * delete ports through an API client given every server, recording only what the API acknowledged,
 * and the check that the database holds exactly that — no acknowledged create lost or doubled, every
 * acknowledged move kept, no address held twice.
 */
import assert from 'node:assert/strict';
import { ApiClient, ApiError } from '../src/client/api.js';

export interface HaPort {
  id: string;
  name: string;
  'binding:host_id': string;
  fixed_ips: { ip_address: string }[];
}

/** What the writers were told. */
export interface Acknowledged {
  /** Ports created, name → id. */
  created: Map<string, string>;
  /** Port id → the last acknowledged `binding:host_id`. */
  hostOf: Map<string, string>;
  deleted: Set<string>;
}

export interface WriteStream {
  /** Each writer's server list (rotated so that writers start on different servers). */
  urls: (writer: number) => string[];
  networkId: string;
  /** Hosts the ports are bound to and moved between. */
  hosts: readonly string[];
  writers: number;
  opsPerWriter: number;
  /** Called after every acknowledged operation with their running count (the test kills a server here). */
  onAck: (acked: number) => void;
  /** Extra client options (a token, a timeout). */
  client?: { token?: string; timeoutMs?: number };
}

/** Runs the writers to the end: of every 5 operations, one moves a port, one deletes one, three create. */
export async function runWriteStream(o: WriteStream): Promise<Acknowledged> {
  const ack: Acknowledged = { created: new Map(), hostOf: new Map(), deleted: new Set() };
  let acked = 0;
  const writer = async (w: number) => {
    const api = new ApiClient({ url: o.urls(w).join(','), ...o.client });
    const mine: string[] = [];
    for (let op = 0; op < o.opsPerWriter; op++) {
      const kind = op % 5;
      if (kind === 3 && mine.length > 0) {
        const id = mine[op % mine.length];
        const host = o.hosts[(op + w) % o.hosts.length];
        await api.update('ports', 'port', id, { 'binding:host_id': host });
        ack.hostOf.set(id, host);
      } else if (kind === 4 && mine.length > 1) {
        const id = mine.shift()!;
        // A retry of a delete the killed server had already committed finds nothing: that is done too.
        await api.delete('ports', id).catch((e: unknown) => {
          if (!(e instanceof ApiError && e.status === 404)) throw e;
        });
        ack.deleted.add(id);
      } else {
        const name = `w${w}-op${op}`;
        const host = o.hosts[op % o.hosts.length];
        const p = await api.create<HaPort>('ports', 'port', { network_id: o.networkId, name, 'binding:host_id': host });
        ack.created.set(name, p.id);
        ack.hostOf.set(p.id, host);
        mine.push(p.id);
      }
      o.onAck(++acked);
    }
  };
  await Promise.all(Array.from({ length: o.writers }, (_, w) => writer(w)));
  return ack;
}

/**
 * Asserts that `ports` (the stream's network, as a surviving server lists it) are exactly the
 * acknowledged, undeleted creates, each once, with its last acknowledged host, and hold distinct
 * addresses. `others` are ports of the network the stream did not make (the lab's VMs), left out.
 */
export function assertAcknowledged(ports: readonly HaPort[], ack: Acknowledged, others: readonly string[] = []): void {
  const ours = ports.filter((p) => !others.includes(p.id));
  const names = ours.map((p) => p.name).sort();
  const expected = [...ack.created]
    .filter(([, id]) => !ack.deleted.has(id))
    .map(([name]) => name)
    .sort();
  assert.deepEqual(names, expected, 'no acknowledged create lost or doubled, no deleted port left');
  for (const p of ours) assert.equal(p['binding:host_id'], ack.hostOf.get(p.id), `last move of ${p.name} kept`);
  const ips = ports.flatMap((p) => p.fixed_ips.map((f) => f.ip_address));
  assert.equal(new Set(ips).size, ips.length, 'no address held twice');
}
