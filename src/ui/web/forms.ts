/**
 * Create forms. "New network": a network and its subnet in one go (POST networks, then subnets);
 * the result shows up through the watch stream like any other change. Errors show the server's
 * NeutronError message.
 */
import { api } from './api.js';
import { h } from './dom.js';

export function networkForm(onDone: (msg: string) => void): HTMLFormElement {
  const field = (label: string, input: HTMLInputElement) => h('label', {}, h('span', {}, label), input);
  const name = h('input', { name: 'name', required: true, placeholder: 'blue' });
  const cidr = h('input', { name: 'cidr', required: true, placeholder: '10.0.1.0/24' });
  const gateway = h('input', { name: 'gateway', placeholder: 'default (first address)' });
  const dhcp = h('input', { name: 'dhcp', type: 'checkbox', checked: true });
  const msg = h('p', { class: 'form-msg' });
  const form = h(
    'form',
    { id: 'network-form' },
    h('h3', {}, 'New network'),
    field('Name', name),
    field('Subnet (CIDR)', cidr),
    field('Gateway', gateway),
    h('label', { class: 'check' }, dhcp, h('span', {}, 'DHCP')),
    h('button', { type: 'submit' }, 'Create'),
    msg,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.className = 'form-msg';
    msg.textContent = 'creating…';
    try {
      const { network } = await api<{ network: { id: string } }>('POST', '/v2.0/networks', {
        network: { name: name.value },
      });
      const subnet: Record<string, unknown> = {
        network_id: network.id,
        name: `${name.value}-subnet`,
        cidr: cidr.value,
        ip_version: 4,
        enable_dhcp: dhcp.checked,
      };
      if (gateway.value) subnet.gateway_ip = gateway.value;
      try {
        await api('POST', '/v2.0/subnets', { subnet });
      } catch (e) {
        await api('DELETE', `/v2.0/networks/${network.id}`).catch(() => undefined); // no half-made network
        throw e;
      }
      msg.textContent = `network ${name.value} created`;
      form.reset();
      dhcp.checked = true;
      onDone(network.id);
    } catch (e) {
      msg.className = 'form-msg error';
      msg.textContent = (e as Error).message;
    }
  });
  return form;
}
