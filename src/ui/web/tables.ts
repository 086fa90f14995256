/**
 * The resource tables: one per entry of the CLI's resource table (same columns as `hypernet X list`),
 * each with a search box that filters rows on any cell text. Port rows open the port page.
 * Entries of an API extension (hyperswitches, agentless ports) come from the model's polled provider
 * lists, are shown only when the server serves them, and have a Delete button per row.
 */
import { RESOURCES, rowCells, type ResourceSpec } from '../../ctl/resources.js';
import type { Kind } from '../../model/types.js';
import { h } from './dom.js';
import type { Model } from './model.js';

/** The model kind of a resource table entry (its API singular). */
export function kindOf(spec: ResourceSpec): Kind {
  return spec.singular as Kind;
}

/** Rows whose cells contain every word of the query (case-insensitive). Pure. */
export function matchRows(rows: readonly string[][], query: string): string[][] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return rows.filter((r) => {
    const text = r.join(' ').toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

export class ResourceTables {
  private readonly queries = new Map<string, string>();
  readonly el = h('section', { id: 'tables' });
  private current = RESOURCES[0].command;

  constructor(
    private readonly model: Model,
    private readonly openPort: (id: string) => void,
    private readonly remove: (spec: ResourceSpec, id: string) => void,
  ) {}

  /** The objects of a table, or null when the server does not serve that extension. */
  private objects(spec: ResourceSpec): Record<string, unknown>[] | null {
    if (spec.cliOnly) return null;
    if (!spec.extension) return this.model.list(kindOf(spec)) as unknown as Record<string, unknown>[];
    const lists = this.model.provider;
    return lists
      ? ([...(lists[spec.singular as keyof typeof lists] ?? [])] as unknown as Record<string, unknown>[])
      : null;
  }

  render(): void {
    const shownSpecs = RESOURCES.filter((r) => this.objects(r) !== null);
    if (!shownSpecs.some((r) => r.command === this.current)) this.current = RESOURCES[0].command;
    const tabs = h(
      'nav',
      { class: 'tabs' },
      ...shownSpecs.map((r) =>
        h(
          'button',
          {
            class: r.command === this.current ? 'tab active' : 'tab',
            'data-resource': r.command,
            onclick: () => {
              this.current = r.command;
              this.render();
            },
          },
          `${r.title}s (${this.objects(r)!.length})`,
        ),
      ),
    );
    const spec = RESOURCES.find((r) => r.command === this.current)!;
    const query = this.queries.get(spec.command) ?? '';
    const objs = this.objects(spec)!;
    objs.sort((a, b) => String(a.name ?? a.host ?? a.id).localeCompare(String(b.name ?? b.host ?? b.id)));
    const rows = objs.map((o) => [String(o.id), ...rowCells(spec.columns, o)]);
    const shown = matchRows(rows, query);
    const search = h('input', {
      type: 'search',
      class: 'search',
      placeholder: `search ${spec.title}s`,
      value: query,
      'data-resource': spec.command,
    });
    search.addEventListener('input', () => {
      this.queries.set(spec.command, search.value);
      this.render();
    });
    const table = h(
      'table',
      { class: 'resources', 'data-resource': spec.command },
      h(
        'thead',
        {},
        h('tr', {}, ...spec.columns.map((c) => h('th', {}, c.header)), spec.extension ? h('th', {}, '') : null),
      ),
      h(
        'tbody',
        {},
        ...shown.map(([id, ...cells]) => {
          const del = spec.extension
            ? h(
                'td',
                {},
                h(
                  'button',
                  {
                    class: 'delete',
                    'data-id': id,
                    onclick: (ev: Event) => {
                      ev.stopPropagation();
                      return this.remove(spec, id);
                    },
                  },
                  'Delete',
                ),
              )
            : null;
          const tr = h('tr', { 'data-id': id }, ...cells.map((c) => h('td', {}, c)), del);
          if (spec.command === 'port') {
            tr.classList.add('link');
            tr.addEventListener('click', () => this.openPort(id));
          }
          return tr;
        }),
      ),
    );
    const hadFocus = document.activeElement?.matches('#tables input.search') ?? false;
    this.el.replaceChildren(
      tabs,
      h('div', { class: 'toolbar' }, search, h('span', { class: 'count' }, `${shown.length} of ${rows.length}`)),
      table,
    );
    if (hadFocus) {
      search.focus();
      search.setSelectionRange(query.length, query.length);
    }
  }
}
