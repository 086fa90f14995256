/**
 * The dashboard's entry: asks for a token when the server wants one, follows the watch stream into
 * the model, and renders the views from it (topology, resource tables, port page, problems, forms).
 * For tests and curious operators, `window.__hypernet` exposes the cytoscape instance and the model,
 * and #topology carries data-nodes / data-edges / data-revision.
 */
import type { Agent } from '../../model/types.js';
import { computeStatus } from '../../ctl/status.js';
import { api, AuthRequired, follow, setToken } from './api.js';
import { h } from './dom.js';
import { networkForm } from './forms.js';
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
let renders = 0;
let pending = false;

function topologyInput() {
  return { agents: model.list('agent'), networks: model.list('network'), subnets: model.list('subnet'), ports: model.list('port') };
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
  );
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
  const input = h('input', { type: 'password', name: 'token', placeholder: 'X-Auth-Token', required: true, autocomplete: 'off' });
  const form = h('form', { method: 'dialog' }, h('h3', {}, 'Sign in'), h('p', {}, why), input, h('button', { type: 'submit' }, 'Use token'));
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

async function start(): Promise<void> {
  try {
    await refreshAgents();
  } catch (e) {
    if (e instanceof AuthRequired) return setState('auth');
    setState('connecting');
    setTimeout(() => void start(), 2000);
    return;
  }
  watching?.abort();
  watching = new AbortController();
  void follow({ revision: () => model.revision, message: (m) => model.apply(m).length && schedule(), state: setState }, watching.signal);
}

function openPort(id: string): void {
  location.hash = `#/port/${encodeURIComponent(id)}`;
}

function boot(): void {
  const app = $('#app');
  const topo = h('div', { id: 'topology' });
  app.replaceChildren(
    h('header', {}, h('h1', {}, 'hypernet'), h('span', { id: 'conn', class: 'conn' }, '○ connecting…'), h('div', { id: 'summary' }), h('button', { id: 'signout', title: 'forget the token', onclick: () => (setToken(''), location.reload()) }, 'sign out')),
    h('main', {}, h('div', { class: 'topology-wrap' }, topo, h('div', { id: 'legend' }, ...['ACTIVE', 'BUILD', 'DOWN', 'ERROR'].map((s) => h('span', { class: `badge status-${s}` }, s)))), h('aside', {}, networkForm(() => schedule()), h('div', { id: 'problems' }))),
    h('div', { id: 'page', hidden: true }),
    h('dialog', { id: 'token-dialog' }),
  );
  graph = new TopologyGraph(topo, openPort);
  tables = new ResourceTables(model, openPort);
  app.append(tables.el);
  window.__hypernet = { cy: graph.cy, model, renders };
  window.addEventListener('hashchange', schedule);
  setInterval(() => void refreshAgents().catch(() => undefined), 10_000);
  render();
  void start();
}

boot();
