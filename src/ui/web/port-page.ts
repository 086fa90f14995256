/**
 * The port page (#/port/ID): hyper IP, MAC, network, cloud, hyperswitch/agent, security groups with
 * their rules, status. Re-rendered from the live model, so a status change shows at once.
 */
import { addressesText, ruleSummary } from '../../ctl/cells.js';
import { agentCloud } from '../../ctl/status.js';
import { h } from './dom.js';
import type { Model } from './model.js';

export function portPage(model: Model, id: string): HTMLElement {
  const p = model.get('port', id);
  if (!p)
    return h(
      'section',
      { id: 'port-page' },
      h('h2', {}, 'Port not found'),
      h('p', {}, `No port ${id} (it may have been deleted).`),
      h('a', { href: '#/' }, '← back'),
    );
  const net = model.get('network', p.network_id);
  const host = p['binding:host_id'];
  const agent = model.list('agent').find((a) => a.host === host);
  const subnets = new Map(model.list('subnet').map((s) => [s.id, s]));
  const row = (label: string, value: Node | string, key: string) =>
    h('tr', {}, h('th', {}, label), h('td', { 'data-field': key }, value));
  const groups = p.security_groups.map((gid) => {
    const g = model.get('security_group', gid);
    const rules = model.list('security_group_rule').filter((r) => r.security_group_id === gid);
    return h(
      'div',
      { class: 'sg' },
      h('strong', {}, g?.name || gid),
      h('ul', {}, ...rules.map((r) => h('li', {}, ruleSummary(r as unknown as Record<string, unknown>)))),
    );
  });
  return h(
    'section',
    { id: 'port-page', 'data-id': p.id },
    h('a', { href: '#/' }, '← topology'),
    h(
      'h2',
      {},
      'Port ',
      p.name || p.id,
      ' ',
      h('span', { class: `badge status-${p.status}`, id: 'port-status' }, p.status),
    ),
    h(
      'table',
      { class: 'fields' },
      row('ID', p.id, 'id'),
      row('Hyper IP', addressesText(p.fixed_ips) || '—', 'hyper_ip'),
      row('Subnet', p.fixed_ips.map((f) => subnets.get(f.subnet_id)?.cidr ?? f.subnet_id).join(', ') || '—', 'subnet'),
      row('MAC address', p.mac_address, 'mac_address'),
      row('Network', net ? `${net.name || net.id} (VNI ${net['provider:segmentation_id']})` : p.network_id, 'network'),
      row('Cloud', agent ? agentCloud(agent) : host ? 'unknown host' : 'unbound', 'cloud'),
      row(
        'Hyperswitch / agent',
        host
          ? `${host}${agent ? ` (${agent.configurations?.tunneling_ip ?? ''}, ${agent.alive ? 'up' : 'DOWN'})` : ''}`
          : 'unbound',
        'host',
      ),
      row(
        'Security groups',
        groups.length ? h('div', {}, ...groups) : p.port_security_enabled ? 'none' : 'port security off',
        'security_groups',
      ),
      row('Status', p.status, 'status'),
      row('Admin state', p.admin_state_up ? 'up' : 'down', 'admin_state_up'),
      row('Device', [p.device_owner, p.device_id].filter(Boolean).join(' ') || '—', 'device'),
      row('VIF type', p['binding:vif_type'], 'vif_type'),
    ),
  );
}
