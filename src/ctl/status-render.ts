/** `hypernet status` as text: short sections (clouds, agents, networks, hyperswitches when any, problems). Pure. */
import { textTable } from '../common/text-table.js';
import type { AgentStatus, StatusReport } from './status.js';

/** e.g. `up (wireguard-go) hs-b 12s ago, hs-c never`, `error: …`, or `-` (the agent reported none). */
function encryptionText(a: AgentStatus): string {
  const e = a.encryption;
  if (!e) return '-';
  if (e.state === 'error') return `error: ${e.error ?? 'unknown'}`;
  const impl = e.impl === 'userspace' ? 'wireguard-go' : (e.impl ?? '?');
  const peers = e.peers.map((p) => `${p.host} ${p.handshake_age_s === null ? 'never' : `${p.handshake_age_s}s ago`}`);
  return `up (${impl})${peers.length ? ` ${peers.join(', ')}` : ', no encrypted peer'}`;
}

export function renderStatus(r: StatusReport): string {
  const out: string[] = [];
  out.push(`Clouds (${r.clouds.length})`);
  out.push(
    textTable(
      ['Cloud', 'Agents up', 'Ports active'],
      r.clouds.map((c) => [c.cloud, `${c.agents_up}/${c.agents}`, `${c.ports_active}/${c.ports}`]),
    ),
  );
  out.push('', `Agents / hyperswitches (${r.agents.length})`);
  out.push(
    textTable(
      ['Host', 'Cloud', 'Tunnel IP', 'State', 'Last heartbeat', 'Encryption (peer: last handshake)'],
      r.agents.map((a) => [
        a.host,
        a.cloud,
        a.tunneling_ip,
        a.alive ? 'UP' : 'DOWN',
        a.last_heartbeat ? `${a.last_heartbeat} (${a.silent_seconds}s ago)` : 'never',
        encryptionText(a),
      ]),
    ),
  );
  out.push('', `Networks (${r.networks.length})`);
  out.push(
    textTable(
      ['Name', 'ID', 'VNI', 'Subnets', 'Ports', 'Active', 'Down', 'Clouds'],
      r.networks.map((n) => [
        n.name,
        n.id,
        String(n.vni ?? ''),
        n.cidrs.join(', '),
        String(n.ports),
        String(n.ports_active),
        String(n.ports_down),
        n.clouds.join(', '),
      ]),
    ),
  );
  if (r.hyperswitches.length) {
    out.push('', `Hyperswitches (${r.hyperswitches.length})`);
    out.push(
      textTable(
        ['ID', 'Serves', 'Flavor', 'Data IP', 'VM', 'Agent', 'Agentless ports', 'Ports active'],
        r.hyperswitches.map((h) => [
          h.id,
          h.serves,
          h.flavor,
          h.data_ip,
          h.status,
          h.agent,
          String(h.agentless_ports),
          `${h.ports_active}/${h.ports}`,
        ]),
      ),
    );
  }
  out.push('', r.problems.length ? `Problems (${r.problems.length})` : 'Problems: none');
  for (const p of r.problems) out.push(`  - ${p.message}`);
  return out.join('\n');
}
