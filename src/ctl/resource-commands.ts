/**
 * Builds `hypernet <resource> list|show|create|set|delete` from one ResourceSpec (resources.ts):
 * flags from its FieldSpecs, bodies through fields.ts, output through format.ts, bulk create and
 * delete through progress.ts. A spec's `secretOut` adds a create (and set) flag writing that attribute
 * to a 0600 file (secret-file.ts) instead of the terminal; `immutable` gives a hidden `set` that says why
 * there is none.
 */
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import type { ApiClient } from '../client/api.js';
import { buildBody, isNegatedPair, optionKey, parseInt10, parseKv } from './fields.js';
import { formatList, formatObject } from './format.js';
import { runBulk } from './progress.js';
import { findObject, resolveId, type Obj } from './resolve.js';
import type { FieldSpec, ResourceSpec } from './resources.js';
import { action, clientFrom, formatFrom, print, withConnection, withOutput } from './run.js';
import { EXIT, errorLine, UsageError } from './errors.js';
import { writeSecretFile } from './secret-file.js';

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

/** A `file` field's text (user data); an unreadable file is a usage error, exit 2. */
async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

function addFieldOptions(cmd: Command, fields: readonly FieldSpec[], verb: 'create' | 'set'): void {
  for (const f of fields) {
    if (f.on && !f.on.includes(verb)) continue;
    const req = verb === 'create' && f.required ? ' (required)' : '';
    if (f.type === 'bool') {
      cmd.option(`--${f.flag}`, f.help + req);
      cmd.option(
        `--${f.negFlag ?? `no-${f.flag}`}`,
        isNegatedPair(f) ? `turn ${f.flag} off` : `opposite of --${f.flag}`,
      );
    } else if (f.type === 'list' || f.type === 'kv-list' || f.type === 'kv-map') {
      cmd.option(`--${f.flag} <value>`, f.help + req, collect);
      if (f.type === 'list') cmd.option(`--no-${f.flag}`, `empty ${f.attr}`);
    } else {
      const o = new Option(`--${f.flag} <value>`, f.help + req);
      cmd.addOption(f.choices ? o.choices([...f.choices]) : o);
    }
  }
}

/** Single string references with an *_id attribute double as list filters (port list --network N). */
function filterFields(spec: ResourceSpec): FieldSpec[] {
  return spec.fields.filter((f) => f.ref && f.type === 'string' && f.attr.endsWith('_id'));
}

async function bulk(
  items: string[],
  verb: string,
  fn: (item: string, i: number) => Promise<Obj | undefined>,
): Promise<Obj[]> {
  if (items.length === 1) {
    const r = await fn(items[0], 0);
    return r ? [r] : [];
  }
  const res = await runBulk(items, verb, fn, process.stderr, errorLine);
  if (res.failed.length)
    process.exitCode = Math.max(...res.failed.map((f) => (f.error instanceof UsageError ? EXIT.USAGE : EXIT.API)));
  return res.ok.filter((x): x is Obj => !!x);
}

export function resourceCommand(spec: ResourceSpec): Command {
  const group = new Command(spec.command).description(`manage ${spec.title}s`);
  const resolver = (client: ApiClient) => (command: string, nameOrId: string) => resolveId(client, command, nameOrId);

  if (spec.verbs.includes('list')) {
    const c = withOutput(withConnection(group.command('list').description(`list ${spec.title}s`)));
    c.option('--filter <key=value>', 'API filter, e.g. status=DOWN (repeat for more)', collect);
    for (const f of filterFields(spec)) c.option(`--${f.flag} <name-or-id>`, `only those of this ${f.ref}`);
    c.action(
      action(async (opts: Obj) => {
        const format = formatFrom(opts);
        const client = clientFrom(opts);
        const query: Record<string, string> = {};
        for (const t of (opts.filter as string[] | undefined) ?? []) Object.assign(query, parseKv('filter', t));
        for (const f of filterFields(spec)) {
          const v = opts[optionKey(f.flag)];
          if (v !== undefined) query[f.attr] = await resolveId(client, f.ref!, String(v));
        }
        const objs = await client.list<Obj>(spec.plural, query);
        // Filter here too: the answer is right even if the server ignores a filter.
        const shown = objs.filter((o) =>
          Object.entries(query).every(([k, v]) => o[k] === undefined || String(o[k]) === v),
        );
        print(formatList(shown, spec.columns, format));
      }),
    );
  }

  if (spec.verbs.includes('show')) {
    withOutput(
      withConnection(group.command('show').description(`show one ${spec.title}`).argument('<name-or-id>')),
    ).action(
      action(async (nameOrId: string, opts: Obj) => {
        const format = formatFrom(opts);
        print(formatObject(await findObject(clientFrom(opts), spec, nameOrId), format));
      }),
    );
  }

  if (spec.verbs.includes('create')) {
    const c = group.command('create').description(`create ${/^[aeiou]/i.test(spec.title) ? 'an' : 'a'} ${spec.title}`);
    if (spec.nameArg) c.argument('[name]', `name of the ${spec.title}`);
    addFieldOptions(c, spec.fields, 'create');
    c.option('--count <n>', `create N ${spec.title}s (names get -1 … -N)`, '1');
    const secret = spec.secretOut;
    if (secret) c.option(`--${secret.flag} <file>`, secret.help);
    withOutput(withConnection(c)).action(
      action(async (...args: unknown[]) => {
        const opts = args[spec.nameArg ? 1 : 0] as Obj;
        const name = spec.nameArg ? (args[0] as string | undefined) : undefined;
        const format = formatFrom(opts);
        const count = parseInt10('count', String(opts.count));
        if (count < 1) throw new UsageError('--count: must be at least 1');
        const secretFile = secret && (opts[optionKey(secret.flag)] as string | undefined);
        if (secretFile !== undefined && count !== 1)
          throw new UsageError(`--${secret!.flag} writes one ${spec.title}'s ${secret!.attr}: use it without --count`);
        const client = clientFrom(opts);
        const body = await buildBody(spec.fields, 'create', opts, resolver(client), readText);
        const names = Array.from({ length: count }, (_, i) =>
          count === 1 ? (name ?? '') : `${name ?? spec.command}-${i + 1}`,
        );
        const made = await bulk(names, 'creating', (n) =>
          client.create<Obj>(
            spec.plural,
            spec.singular,
            spec.nameArg && n !== '' ? { ...body, [spec.nameAttr ?? 'name']: n } : body,
          ),
        );
        if (count === 1 && made.length === 1 && secretFile !== undefined)
          printWithSecret(spec, made[0], secretFile, 'created', format);
        else if (count === 1 && made.length === 1) print(formatObject(made[0], format));
        else if (made.length) print(formatList(made, spec.columns, format));
      }),
    );
  }

  if (spec.verbs.includes('set')) {
    const c = group
      .command('set')
      .description(`change ${article(spec.title)} ${spec.title}`)
      .argument('<name-or-id>');
    addFieldOptions(c, spec.fields, 'set');
    const secret = spec.secretOut;
    if (secret) c.option(`--${secret.flag} <file>`, secret.help);
    withOutput(withConnection(c)).action(
      action(async (nameOrId: string, opts: Obj) => {
        const format = formatFrom(opts);
        const client = clientFrom(opts);
        const body = await buildBody(spec.fields, 'set', opts, resolver(client), readText);
        if (Object.keys(body).length === 0)
          throw new UsageError(`nothing to set: give at least one option (see hypernet ${spec.command} set --help)`);
        const obj = await findObject(client, spec, nameOrId);
        const changed = await client.update<Obj>(spec.plural, spec.singular, String(obj.id), body);
        const secretFile = secret && (opts[optionKey(secret.flag)] as string | undefined);
        if (secretFile !== undefined) printWithSecret(spec, changed, secretFile, 'changed', format);
        else print(formatObject(changed, format));
      }),
    );
  }

  if (spec.immutable && !spec.verbs.includes('set')) {
    group
      .command('set', { hidden: true })
      .allowUnknownOption()
      .allowExcessArguments()
      .action(
        action(async () => {
          throw new UsageError(`hypernet ${spec.command} set: ${spec.immutable}`);
        }),
      );
  }

  if (spec.verbs.includes('delete')) {
    withConnection(group.command('delete').description(`delete ${spec.title}s`).argument('<name-or-id...>')).action(
      action(async (items: string[], opts: Obj) => {
        const client = clientFrom(opts);
        await bulk(items, 'deleting', async (item) => {
          await client.delete(spec.plural, String((await findObject(client, spec, item)).id));
          return undefined;
        });
      }),
    );
  }
  return group;
}

/** "a" or "an" before a title. */
function article(title: string): string {
  return /^[aeiou]/i.test(title) ? 'an' : 'a';
}

/** Prints `obj` with its secret attribute written to `file` (mode 0600) instead, named by `<attr>_file`. */
function printWithSecret(
  spec: ResourceSpec,
  obj: Obj,
  file: string,
  done: string,
  format: ReturnType<typeof formatFrom>,
): void {
  const secret = spec.secretOut!;
  const { [secret.attr]: text, ...rest } = obj;
  let where: string;
  try {
    where = writeSecretFile(file, String(text ?? ''));
  } catch (e) {
    throw new Error(
      `${spec.title} ${String(rest.id)} ${done}, but writing ${file} failed (hypernet ` +
        `${spec.command} show ${String(rest.id)} -o json has it): ${(e as Error).message}`,
    );
  }
  print(formatObject({ ...rest, [`${secret.attr}_file`]: where }, format));
}
