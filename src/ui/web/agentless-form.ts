/**
 * "New agentless port" (agentless mode): pick a hyper port that has none yet, optionally a flavor,
 * device_id and NIC index; POST /v2.0/agentlessports. The answer's user_data (the VM's cloud-init,
 * holding its private key) is offered as a download through a Blob link, never put in the page text.
 * The flavors come from the CLI's resource table entry, so both offer the same choices.
 */
import type { Port } from '../../model/types.js';
import type { AgentlessPortWire } from '../../model/agentless.js';
import { resourceByCommand } from '../../ctl/resources.js';
import { addressesText } from '../../ctl/cells.js';
import { api } from './api.js';
import { h } from './dom.js';

export interface AgentlessForm {
  el: HTMLFormElement;
  /** Refreshes the port choices: every port without an agentless port (`taken` port ids). */
  update(ports: readonly Port[], taken: ReadonlySet<string>): void;
}

const spec = resourceByCommand('agentless');
const choicesOf = (flag: string) => spec.fields.find((f) => f.flag === flag)?.choices ?? [];

export function agentlessForm(onDone: (made: AgentlessPortWire) => void): AgentlessForm {
  const field = (label: string, input: HTMLElement) => h('label', {}, h('span', {}, label), input);
  const option = (value: string, text: string) => h('option', { value }, text);
  const port = h('select', { name: 'port_id', required: true });
  const flavor = h(
    'select',
    { name: 'flavor' },
    option('', 'server default'),
    ...choicesOf('flavor').map((f) => option(f, f)),
  );
  const device = h('input', { name: 'device_id', placeholder: "the port's device_id" });
  const index = h(
    'select',
    { name: 'index' },
    option('', '0 (default)'),
    ...choicesOf('index').map((i) => option(i, i)),
  );
  const msg = h('p', { class: 'form-msg' });
  const download = h('a', { class: 'download', hidden: true }, 'Download user_data');
  const el = h(
    'form',
    { id: 'agentless-form' },
    h('h3', {}, 'New agentless port'),
    field('Hyper port', port),
    field('Flavor', flavor),
    field('Device ID', device),
    field('NIC index', index),
    h('button', { type: 'submit' }, 'Create'),
    msg,
    download,
  );
  let url = '';
  let shownKey = '';
  el.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.className = 'form-msg';
    msg.textContent = 'creating… (a new hyperswitch takes a few seconds)';
    download.hidden = true;
    const body: Record<string, unknown> = { port_id: port.value };
    if (flavor.value) body.flavor = flavor.value;
    if (device.value.trim()) body.device_id = device.value.trim();
    if (index.value) body.index = Number(index.value);
    try {
      const { agentlessport: made } = await api<{ agentlessport: AgentlessPortWire }>('POST', '/v2.0/agentlessports', {
        agentlessport: body,
      });
      if (url) URL.revokeObjectURL(url);
      url = URL.createObjectURL(new Blob([made.user_data], { type: 'text/plain' }));
      download.href = url;
      download.download = `user-data-${made.port_id}.yaml`;
      download.dataset.id = made.id;
      download.hidden = false;
      msg.textContent =
        `agentless port ${made.id} created on hyperswitch ${made.hyperswitch_id}; give ` +
        `the VM this user_data (it holds a private key):`;
      el.reset();
      onDone(made);
    } catch (e) {
      msg.className = 'form-msg error';
      msg.textContent = (e as Error).message;
    }
  });
  return {
    el,
    update(ports, taken) {
      const keep = port.value;
      const free = ports.filter((p) => !taken.has(p.id)).sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id));
      const key = free.map((p) => `${p.id} ${p.name} ${addressesText(p.fixed_ips)}`).join('|');
      if (key === shownKey) return; // unchanged: leave an open dropdown alone
      shownKey = key;
      port.replaceChildren(
        option('', free.length ? 'choose a port' : 'no port without one'),
        ...free.map((p) => option(p.id, `${p.name || p.id.slice(0, 8)} ${addressesText(p.fixed_ips)}`.trim())),
      );
      if (free.some((p) => p.id === keep)) port.value = keep;
    },
  };
}
