/**
 * The custom-route driver: reads what the feature owns in the kernel (links `hcr…`, proxy and
 * permanent neighbour entries on them, routes of the tables CR_TABLE_BASE…, rules of preference
 * CR_RULE_PREF, the nftables table `ip hypernet_cr`) and applies operations through `Exec`. Every
 * operation is idempotent (`replace`, deletions of what is already gone succeed), so one failing
 * leaves the next to run and a retry repeats it harmlessly.
 */
import type { Exec } from '../../common/exec.js';
import { parseLinks } from '../datapath/kernel-parse.js';
import { CUSTOM_ROUTE_SHIM_PREFIX } from '../../model/kernel-names.js';
import { natScript } from './compile.js';
import {
  CR_FROM_RULE_PREF,
  CR_NFT_TABLE,
  CR_RULE_PREF,
  isCrTable,
  type CrActual,
  type CrObject,
  type CrOp,
} from './types.js';

type Json = Record<string, unknown>;
const rows = (text: string): Json[] => {
  const v = JSON.parse(text.trim() || '[]') as unknown;
  return Array.isArray(v) ? (v as Json[]) : [];
};
const ours = (dev: unknown): dev is string => typeof dev === 'string' && dev.startsWith(CUSTOM_ROUTE_SHIM_PREFIX);

/** Pure: the actual state from the command outputs (exported for the tests). */
export function parseCustomRouteState(out: {
  links: string;
  proxies: string;
  neighbours: string;
  routes: string;
  rules: string;
  nft: string | null;
  forwarding: string;
}): CrActual {
  const objects: CrObject[] = [];
  const links = parseLinks(out.links);
  for (const l of links.values()) {
    if (!ours(l.name) || l.kind !== 'veth') continue;
    const tap = `tap${l.name.slice(CUSTOM_ROUTE_SHIM_PREFIX.length)}`;
    // The pair is whole only when its tap end is there too; otherwise the link is made again.
    objects.push({
      kind: 'link',
      key: l.name,
      shim: l.name,
      tap: links.get(tap)?.kind === 'veth' ? tap : '',
      mac: l.mac ?? '',
      mtu: l.mtu,
      up: l.up,
    });
  }
  for (const r of rows(out.proxies))
    if (ours(r.dev) && typeof r.dst === 'string')
      objects.push({ kind: 'proxy', key: `${r.dst} ${r.dev}`, ip: r.dst, dev: r.dev });
  for (const r of rows(out.neighbours))
    if (ours(r.dev) && typeof r.dst === 'string')
      objects.push({
        kind: 'neigh',
        key: `${r.dst} ${r.dev}`,
        ip: r.dst,
        dev: r.dev,
        mac: String(r.lladdr ?? '').toLowerCase(),
      });
  for (const r of rows(out.routes)) {
    const table = Number(r.table);
    if (!isCrTable(table) || typeof r.dst !== 'string') continue;
    const via = typeof r.gateway === 'string' ? r.gateway : undefined;
    objects.push({
      kind: 'route',
      key: `${table} ${r.dst}`,
      table,
      dst: r.dst,
      ...(via ? { via } : { dev: String(r.dev ?? '') }),
    });
  }
  for (const r of rows(out.rules)) {
    const table = Number(r.table);
    if ((r.priority !== CR_RULE_PREF && r.priority !== CR_FROM_RULE_PREF) || !isCrTable(table)) continue;
    const sel = typeof r.src === 'string' && r.src !== 'all' ? 'from' : 'to';
    const ip = String(sel === 'from' ? r.src : r.dst);
    const iif = typeof r.iif === 'string' ? { iif: r.iif } : {};
    objects.push({ kind: 'rule', key: `${sel} ${ip} ${table}`, sel, ip, table, ...iif });
  }
  // The table's comment (`nft list` text: nft 1.0.6's JSON leaves table comments out).
  const nftTag = out.nft === null ? null : (/^\s*comment "([^"]*)"/m.exec(out.nft)?.[1] ?? '');
  return { objects, nftTag, forwarding: out.forwarding.trim() === '1' };
}

export class CustomRouteDriver {
  constructor(private readonly exec: Exec) {}

  async read(): Promise<CrActual> {
    const x = this.exec;
    const json = async (args: string[]) => (await x('ip', args)).stdout;
    const nft = await x('nft', ['list', 'table', 'ip', CR_NFT_TABLE], { allowFail: true });
    return parseCustomRouteState({
      links: await json(['-d', '-json', 'link', 'show']),
      proxies: await json(['-4', '-json', 'neigh', 'show', 'proxy']),
      neighbours: await json(['-4', '-json', 'neigh', 'show', 'nud', 'permanent']),
      routes: await json(['-4', '-json', 'route', 'show', 'table', 'all']),
      rules: await json(['-4', '-json', 'rule', 'show']),
      nft: nft.code === 0 ? nft.stdout : null,
      forwarding: (await x('sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout,
    });
  }

  async apply(op: CrOp): Promise<void> {
    const x = this.exec;
    if (op.op === 'forwarding') {
      await x('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      return;
    }
    if (op.op === 'nft') {
      await x('nft', ['-f', '-'], { input: natScript(op.text, op.tag) });
      return;
    }
    const o = op.obj;
    if (op.op === 'del') {
      await x('ip', delArgs(o), { allowFail: true });
      return;
    }
    if (o.kind === 'link') {
      // Made again whole: a half pair or one of the wrong kind is removed first.
      await x('ip', ['link', 'del', o.shim], { allowFail: true });
      await x('ip', ['link', 'del', o.tap], { allowFail: true });
      await x('ip', [
        'link',
        'add',
        o.shim,
        'mtu',
        String(o.mtu),
        'address',
        o.mac,
        'type',
        'veth',
        'peer',
        'name',
        o.tap,
      ]);
      await x('ip', ['link', 'set', o.tap, 'mtu', String(o.mtu)]);
      await x('ip', ['link', 'set', o.shim, 'up']);
      return;
    }
    await x('ip', addArgs(o));
  }
}

function addArgs(o: Exclude<CrObject, { kind: 'link' }>): string[] {
  switch (o.kind) {
    case 'proxy':
      return ['neigh', 'replace', 'proxy', o.ip, 'dev', o.dev];
    case 'neigh':
      return ['neigh', 'replace', o.ip, 'lladdr', o.mac, 'dev', o.dev, 'nud', 'permanent'];
    case 'route':
      return ['route', 'replace', o.dst, ...(o.via ? ['via', o.via] : ['dev', o.dev ?? '']), 'table', String(o.table)];
    case 'rule':
      return ['rule', 'add', ...ruleArgs(o)];
  }
}

function delArgs(o: CrObject): string[] {
  switch (o.kind) {
    case 'link':
      return ['link', 'del', o.shim];
    case 'proxy':
      return ['neigh', 'del', 'proxy', o.ip, 'dev', o.dev];
    case 'neigh':
      return ['neigh', 'del', o.ip, 'dev', o.dev];
    case 'route':
      return ['route', 'del', o.dst, 'table', String(o.table)];
    case 'rule':
      return ['rule', 'del', ...ruleArgs(o)];
  }
}

function ruleArgs(o: Extract<CrObject, { kind: 'rule' }>): string[] {
  const pref = o.sel === 'to' ? CR_RULE_PREF : CR_FROM_RULE_PREF;
  return ['pref', String(pref), o.sel, o.ip, ...(o.iif ? ['iif', o.iif] : []), 'lookup', String(o.table)];
}
