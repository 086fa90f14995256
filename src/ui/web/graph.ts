/**
 * The topology view: one cytoscape instance kept in step with topology.ts's elements. Elements are
 * added, removed or updated in place by id; the layout runs again only when the shape changed.
 */
import cytoscape, { type Core, type ElementDefinition } from 'cytoscape';

const STYLE: cytoscape.StylesheetJson = [
  { selector: 'node', style: { label: 'data(label)', 'font-size': 11, 'text-wrap': 'wrap', color: '#1f2933' } },
  {
    selector: 'node[kind = "cloud"]',
    style: {
      'background-color': '#e8f1fb',
      'border-color': '#5b8dd6',
      'border-width': 2,
      shape: 'round-rectangle',
      'text-valign': 'top',
      'text-halign': 'center',
      'font-size': 14,
      'font-weight': 'bold',
      padding: '18px',
    },
  },
  {
    selector: 'node[kind = "agent"]',
    style: {
      'background-color': '#ffffff',
      'border-color': '#7b8794',
      'border-width': 1,
      shape: 'round-rectangle',
      'text-valign': 'top',
      'text-halign': 'center',
      padding: '12px',
    },
  },
  {
    selector: 'node[kind = "agent"][role = "hyperswitch"]',
    style: { 'background-color': '#effcf6', 'border-color': '#199473', 'border-width': 2 },
  },
  {
    selector: 'node[kind = "agent"][alive = "down"]',
    style: { 'border-color': '#d64545', 'border-style': 'dashed', 'border-width': 2 },
  },
  {
    selector: 'node[kind = "network"]',
    style: {
      shape: 'hexagon',
      'background-color': '#7c5cc4',
      width: 46,
      height: 40,
      'text-valign': 'bottom',
      'text-margin-y': 4,
      'font-weight': 'bold',
    },
  },
  {
    selector: 'node[kind = "port"]',
    style: {
      shape: 'ellipse',
      width: 22,
      height: 22,
      'background-color': '#9aa5b1',
      'text-valign': 'bottom',
      'font-size': 10,
    },
  },
  { selector: 'node[kind = "port"][agentless]', style: { shape: 'diamond', width: 26, height: 26 } },
  { selector: 'node[kind = "port"][status = "ACTIVE"]', style: { 'background-color': '#3f9142' } },
  { selector: 'node[kind = "port"][status = "DOWN"]', style: { 'background-color': '#d64545' } },
  { selector: 'node[kind = "port"][status = "BUILD"]', style: { 'background-color': '#e0a526' } },
  { selector: 'node[kind = "port"][status = "ERROR"]', style: { 'background-color': '#8e1b1b' } },
  { selector: 'edge', style: { width: 2, 'line-color': '#b39ddb', 'curve-style': 'bezier' } },
  { selector: ':selected', style: { 'border-color': '#f0b429', 'border-width': 3 } },
];

export class TopologyGraph {
  readonly cy: Core;

  constructor(container: HTMLElement, onPort: (id: string) => void) {
    this.cy = cytoscape({ container, style: STYLE, wheelSensitivity: 0.3, minZoom: 0.2, maxZoom: 3 });
    this.cy.on('tap', 'node[kind = "port"]', (ev) => onPort(String(ev.target.data('ref'))));
  }

  /** Brings the graph to exactly these elements. */
  sync(els: readonly ElementDefinition[]): void {
    const cy = this.cy;
    const want = new Map(els.map((e) => [String(e.data.id), e]));
    let shaped = false;
    cy.batch(() => {
      cy.elements().forEach((el) => {
        const e = want.get(el.id());
        // A node whose parent changed must be re-created (cytoscape's move() is the other way).
        if (!e || (el.isNode() && (el.data('parent') ?? null) !== (e.data.parent ?? null))) {
          cy.remove(el);
          shaped = true;
        }
      });
      const add: ElementDefinition[] = [];
      for (const [id, e] of want) {
        const have = cy.getElementById(id);
        if (have.empty()) add.push(e);
        else {
          const { id: _id, parent: _p, source: _s, target: _t, ...rest } = e.data;
          const stale = Object.keys(have.data()).filter((k) => !(k in e.data));
          if (stale.length) have.removeData(stale.join(' '));
          have.data(rest);
        }
      }
      if (add.length) {
        // parents before children, nodes before edges
        add.sort((a, b) => rank(a) - rank(b));
        cy.add(add);
        shaped = true;
      }
    });
    if (shaped && cy.nodes().length)
      cy.layout({
        name: 'cose',
        animate: false,
        padding: 30,
        nodeRepulsion: () => 9000,
        idealEdgeLength: () => 60,
        nestingFactor: 1.2,
      } as cytoscape.LayoutOptions).run();
  }
}

function rank(e: ElementDefinition): number {
  if (e.group === 'edges' || e.data.source) return 3;
  return e.data.kind === 'cloud' ? 0 : e.data.kind === 'agent' ? 1 : 2;
}
