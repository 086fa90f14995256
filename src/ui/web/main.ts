/**
 * The dashboard's entry: asks for a token when the server wants one, follows the watch stream into
 * the model, and renders the views from it (topology, resource tables, routers and floating IPs,
 * port page, problems, forms).
 * Agentless mode's hyperswitches and agentless ports have no watch events: they are polled every
 * 10 s and right after the page creates or deletes one; their form and tables show only when served.
 * For tests and curious operators, `window.__hypernet` exposes the cytoscape instance and the model,
 * and #topology carries data-nodes / data-edges / data-revision.
 */
import type { Agent } from '../../model/types.js';
import { computeStatus } from '../../ctl/status.js';
import type { ResourceSpec } from '../../ctl/resources.js';
import type { AgentlessPortWire, HyperswitchWire } from '../../model/agentless.js';
import { agentlessForm } from './agentless-form.js';
import { api, AuthRequired, follow, HttpError, setToken } from './api.js';
import { h } from './dom.js';
import { networkForm } from './forms.js';
import { l3Section } from './l3-view.js';
import { TopologyGraph } from './graph.js';
import { Model } from './model.js';
import { portPage } from './port-page.js';
import { ResourceTables } from './tables.js';
import { topologyElements } from './topology.js';
import './style.css';

declare global {
  interface Window {
    __hypernet?: { cy: TopologyGraph['cy']; model: Model; renders: number };
  }
}

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;

const model = new Model();
let graph: TopologyGraph | undefined;
let tables: ResourceTables | undefined;
const alForm = agentlessForm(() => void refreshProvider());
let renders = 0;
let pending = false;

function topologyInput() {
  const p = model.provider;
  return {
    agents: model.list('agent'),
    networks: model.list('network'),
    subnets: model.list('subnet'),
    ports: model.list('port'),
    hyperswitches: p?.hyperswitch ?? [],
    agentlessPorts: p?.agentlessport ?? [],
  };
}

function render(): void {
  pending = false;
  renders++;
  const input = topologyInput();
  const report = computeStatus(input, Date.now());
  const up = report.agents.filter((a) => a.alive).length;
  const active = input.ports.filter((p) => p.status === 'ACTIVE').length;
  $('#summary').replaceChildren(
    h('span', {}, `${report.clouds.length} clouds`),
    h('span', {}, `${up}/${report.agents.length} agents up`),
    h('span', {}, `${input.networks.length} networks`),
    h('span', {}, `${active}/${input.ports.length} ports active`),
    ...(model.provider
      ? [h('span', {}, `${input.hyperswitches.length} hyperswitches, ${input.agentlessPorts.length} agentless ports`)]
      : []),
  );
  alForm.el.hidden = !model.provider;
  alForm.update(input.ports, new Set(input.agentlessPorts.map((a) => a.port_id)));
  $('#problems').replaceChildren(
    h('h3', {}, report.problems.length ? `Problems (${report.problems.length})` : 'Problems: none'),
    h('ul', {}, ...report.problems.map((p) => h('li', { class: p.kind }, p.message))),
  );
  const topo = $('#topology');
  graph!.sync(topologyElements(input));
  topo.dataset.nodes = String(graph!.cy.nodes().length);
  topo.dataset.edges = String(graph!.cy.edges().length);
  topo.dataset.revision = String(model.revision);
  tables!.render();
  $('#l3').replaceChildren(
    ...l3Section({
      networks: input.networks,
      subnets: input.subnets,
      ports: input.ports,
      routers: model.list('router'),
      floatingips: model.list('floatingip'),
    }),
  );
  const m = /^#\/port\/(.+)$/.exec(location.hash);
  const page = $('#page');
  if (m) page.replaceChildren(portPage(model, decodeURIComponent(m[1])));
  page.hidden = !m;
  if (window.__hypernet) window.__hypernet.renders = renders;
}

function schedule(): void {
  if (pending) return;
  pending = true;
  setTimeout(render, 30);
}

function setState(s: 'live' | 'connecting' | 'auth'): void {
  const el = $('#conn');
  el.textContent = s === 'live' ? '● live' : s === 'auth' ? 'token needed' : '○ connecting…';
  el.className = `conn ${s}`;
  document.body.dataset.conn = s;
  if (s === 'auth') askToken('The server wants a token.');
}

function askToken(why: string): void {
  const dlg = $<HTMLDialogElement>('#token-dialog');
  const input = h('input', {
    type: 'password',
    name: 'token',
    placeholder: 'X-Auth-Token',
    required: true,
    autocomplete: 'off',
  });
  const form = h(
    'form',
    { method: 'dialog' },
    h('h3', {}, 'Sign in'),
    h('p', {}, why),
    input,
    h('button', { type: 'submit' }, 'Use token'),
  );
  form.addEventListener('submit', () => {
    setToken(input.value.trim());
    dlg.close();
    void start();
  });
  dlg.replaceChildren(form);
  if (!dlg.open) dlg.showModal();
}

let watching: AbortController | undefined;

async function refreshAgents(): Promise<void> {
  const { agents } = await api<{ agents: Agent[] }>('GET', '/v2.0/agents');
  model.setAgents(agents);
  schedule();
}

/** Polls the agentless entities; a 404 means the server has no agentless mode (hidden). */
async function refreshProvider(): Promise<void> {
  try {
    const [{ hyperswitches }, { agentlessports }] = await Promise.all([
      api<{ hyperswitches: HyperswitchWire[] }>('GET', '/v2.0/hyperswitches'),
      api<{ agentlessports: AgentlessPortWire[] }>('GET', '/v2.0/agentlessports'),
    ]);
    model.setProvider({ hyperswitch: hyperswitches, agentlessport: agentlessports });
  } catch (e) {
    if (!(e instanceof HttpError && e.status === 404)) throw e;
    model.setProvider(null);
  }
  schedule();
}

async function removeProvided(spec: ResourceSpec, id: string): Promise<void> {
  if (!confirm(`Delete ${spec.title} ${id}?`)) return;
  try {
    await api('DELETE', `/v2.0/${spec.plural}/${encodeURIComponent(id)}`);
  } catch (e) {
    alert((e as Error).message);
  }
  await refreshProvider();
}

async function start(): Promise<void> {
  try {
    await refreshAgents();
    await refreshProvider();
  } catch (e) {
    if (e instanceof AuthRequired) return setState('auth');
    setState('connecting');
    setTimeout(() => void start(), 2000);
    return;
  }
  watching?.abort();
  watching = new AbortController();
  void follow(
    { revision: () => model.revision, message: (m) => model.apply(m).length && schedule(), state: setState },
    watching.signal,
  );
}

function openPort(id: string): void {
  location.hash = `#/port/${encodeURIComponent(id)}`;
}

function boot(): void {
  const app = $('#app');
  const topo = h('div', { id: 'topology' });
  app.replaceChildren(
    h(
      'header',
      {},
      h('h1', {}, 'hypernet'),
      h('span', { id: 'conn', class: 'conn' }, '○ connecting…'),
      h('div', { id: 'summary' }),
      h(
        'button',
        {
          id: 'signout',
          title: 'forget the token',
          onclick: () => {
            setToken('');
            location.reload();
          },
        },
        'sign out',
      ),
    ),
    h(
      'main',
      {},
      h(
        'div',
        { class: 'topology-wrap' },
        topo,
        h(
          'div',
          { id: 'legend' },
          ...['ACTIVE', 'BUILD', 'DOWN', 'ERROR'].map((s) => h('span', { class: `badge status-${s}` }, s)),
        ),
      ),
      h(
        'aside',
        {},
        networkForm(() => schedule()),
        alForm.el,
        h('div', { id: 'problems' }),
      ),
    ),
    h('div', { id: 'page', hidden: true }),
    h('dialog', { id: 'token-dialog' }),
  );
  graph = new TopologyGraph(topo, openPort);
  tables = new ResourceTables(model, openPort, (spec, id) => void removeProvided(spec, id));
  app.append(tables.el, h('section', { id: 'l3' }));
  window.__hypernet = { cy: graph.cy, model, renders };
  window.addEventListener('hashchange', schedule);
  setInterval(() => void refreshAgents().catch(() => undefined), 10_000);
  setInterval(() => void refreshProvider().catch(() => undefined), 10_000);
  render();
  void start();
}

boot();
