/** Plain text tables (openstack CLI style borders), for the CLI and the lab's reports. */
import Table from 'cli-table3';

/** ASCII borders like the openstack CLI. */
const CHARS = {
  top: '-',
  'top-mid': '+',
  'top-left': '+',
  'top-right': '+',
  bottom: '-',
  'bottom-mid': '+',
  'bottom-left': '+',
  'bottom-right': '+',
  left: '|',
  'left-mid': '+',
  mid: '-',
  'mid-mid': '+',
  right: '|',
  'right-mid': '+',
  middle: '|',
};
const RULE = /^\+[-+]+\+$/;

/** A plain text table (no colours, so scripts and tests see stable text). */
export function textTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const t = new Table({ head: [...head], chars: CHARS, style: { head: [], border: [] } });
  for (const r of rows) t.push([...r]);
  // Keep the rules above and below the header and at the bottom; drop those between rows.
  const lines = t.toString().split('\n');
  const headerEnd = lines.findIndex((l, i) => i > 0 && RULE.test(l));
  return lines.filter((l, i) => i <= headerEnd || i === lines.length - 1 || !RULE.test(l)).join('\n');
}
