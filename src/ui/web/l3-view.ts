/**
 * The dashboard's L3 section (#l3): a card per router (gateways per cloud, interfaces, extra routes,
 * status and admin state) and the floating IPs table. Re-rendered from the live model like the rest.
 */
import { h } from './dom.js';
import { floatingIpRows, routerViews, type L3Tables, type RouterView } from './l3.js';

const table = (cls: string, headers: string[], rows: HTMLElement[]) =>
  h(
    'table',
    { class: `resources ${cls}` },
    h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, ...rows),
  );

function routerCard(r: RouterView): HTMLElement {
  return h(
    'div',
    { class: 'router', 'data-id': r.id },
    h(
      'h4',
      {},
      r.name,
      ' ',
      h('span', { class: `badge status-${r.status}` }, r.status),
      r.adminUp ? null : h('span', { class: 'badge status-DOWN admin' }, 'admin down'),
    ),
    table(
      'gateways',
      ['cloud', 'external network', 'address', 'SNAT'],
      r.gateways.map((g) =>
        h(
          'tr',
          { 'data-cloud': g.cloud },
          h('td', {}, g.cloud),
          h('td', {}, g.network),
          h('td', {}, g.addresses),
          h('td', {}, g.snat ? 'on' : 'off'),
        ),
      ),
    ),
    table(
      'interfaces',
      ['subnet', 'address', 'network'],
      r.interfaces.map((i) => h('tr', {}, h('td', {}, i.subnet), h('td', {}, i.address), h('td', {}, i.network))),
    ),
    h(
      'ul',
      { class: 'routes' },
      ...(r.routes.length ? r.routes.map((x) => h('li', {}, x)) : [h('li', {}, 'no extra routes')]),
    ),
  );
}

export function l3Section(t: L3Tables): HTMLElement[] {
  const routers = routerViews(t);
  const fips = floatingIpRows(t);
  return [
    h('h3', {}, `Routers (${routers.length})`),
    h('div', { class: 'routers' }, ...routers.map(routerCard)),
    h('h3', {}, `Floating IPs (${fips.length})`),
    table(
      'floatingips',
      ['address', 'port', 'fixed IP', 'cloud', 'router', 'status'],
      fips.map((f) =>
        h(
          'tr',
          { 'data-id': f.id },
          h('td', {}, f.address),
          h('td', {}, f.port),
          h('td', {}, f.fixedIp),
          h('td', {}, f.cloud),
          h('td', {}, f.router),
          h('td', {}, h('span', { class: `badge status-${f.status}` }, f.status)),
        ),
      ),
    ),
  ];
}
