/**
 * Output of the resource commands: a table (default), `-o json` or `-o yaml`. Lists print one row
 * per object with the resource's columns; a single object prints as Field/Value rows. JSON and
 * YAML carry the whole objects as the API returned them, for scripts.
 */
import { textTable } from '../common/text-table.js';
import { stringify } from 'yaml';
import { cellText } from './cells.js';
import { rowCells, type Column } from './resources.js';
import { UsageError } from './errors.js';

export const FORMATS = ['table', 'json', 'yaml'] as const;
export type Format = (typeof FORMATS)[number];

export function parseFormat(text: string | undefined): Format {
  const f = text ?? 'table';
  if (!(FORMATS as readonly string[]).includes(f))
    throw new UsageError(`-o: expected one of ${FORMATS.join(', ')}, got ${JSON.stringify(f)}`);
  return f as Format;
}

function data(value: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? JSON.stringify(value, null, 2) : stringify(value).trimEnd();
}

export function formatList(
  objs: readonly Record<string, unknown>[],
  columns: readonly Column[],
  format: Format,
): string {
  if (format !== 'table') return data(objs, format);
  return textTable(
    columns.map((c) => c.header),
    objs.map((o) => rowCells(columns, o)),
  );
}

export function formatObject(obj: Record<string, unknown>, format: Format): string {
  if (format !== 'table') return data(obj, format);
  const keys = Object.keys(obj).sort();
  return textTable(
    ['Field', 'Value'],
    keys.map((k) => [k, cellText(obj[k])]),
  );
}
