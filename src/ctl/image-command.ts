/**
 * `hypernet image push|list|show|delete|pull`: the image catalog from the command line.
 * `push FILE` sends an OCI archive as it is; `push DIR` packs an OCI layout directory on the fly
 * into the canonical archive (so the catalog's checksum is the md5 of exactly what was sent). A
 * push that the server refuses deletes the image it created, so nothing is left behind. `pull`
 * (owner or admin) issues a single-use token bound to the given address and pulls through the
 * repository as a HyperVM would, verifying every digest.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import { ImageClient, type ImageWire } from '../client/images.js';
import { UsageError } from './errors.js';
import { formatList, formatObject } from './format.js';
import type { Column } from './resources.js';
import { action, clientFrom, formatFrom, print, withConnection, withOutput } from './run.js';
import { transferProgress } from './transfer-progress.js';

const COLUMNS: Column[] = [
  { header: 'ID', attr: 'id' },
  { header: 'Name', attr: 'name' },
  { header: 'Status', attr: 'status' },
  { header: 'Visibility', attr: 'visibility' },
  { header: 'Size', attr: 'size' },
];

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];
type Opts = Record<string, unknown>;

/** What to send for FILE (an archive) or DIR (a layout to pack). */
async function source(path: string): Promise<{ data: () => Readable; size: number }> {
  const st = await stat(path).catch(() => {
    throw new UsageError(`${path}: no such file or directory`);
  });
  if (st.isDirectory()) {
    // Loaded here, not at start-up: node-tar is not needed by any other command.
    const { archiveChunks, archiveSize, layoutFromDir } = await import('../common/oci-archive.js');
    const layout = await layoutFromDir(path).catch((e: Error) => {
      throw new UsageError(`${path} is not an OCI layout directory: ${e.message}`);
    });
    return { data: () => Readable.from(archiveChunks(layout)), size: archiveSize(layout) };
  }
  return { data: () => createReadStream(path), size: st.size };
}

function pushCommand(): Command {
  const c = withOutput(withConnection(new Command('push')))
    .description('push an OCI archive (FILE) or OCI layout directory (DIR) as a new image')
    .argument('<path>', 'OCI archive (podman save --format oci-archive) or layout directory (umoci, skopeo oci:)')
    .requiredOption('--name <name>', 'image name')
    .option('--visibility <v>', 'private | shared | community | public (public: admin only)')
    .option('--tag <tag>', 'a tag (repeat for more)', collect)
    .option('--protected', 'refuse deletion until unset');
  return c.action(
    action(async (path: string, opts: Opts) => {
      const src = await source(path);
      const images = new ImageClient(clientFrom(opts));
      const body: Record<string, unknown> = { name: opts.name, container_format: 'docker', disk_format: 'raw' };
      if (opts.visibility !== undefined) body.visibility = opts.visibility;
      if (opts.tag !== undefined) body.tags = opts.tag;
      if (opts.protected) body.protected = true;
      const img = await images.create(body);
      const bar = transferProgress(process.stderr, `pushing ${String(opts.name)}`);
      try {
        await images.upload(img.id, src.data(), src.size, (sent) => bar.update(sent, src.size));
      } catch (e) {
        bar.end();
        await images.delete(img.id).catch(() => {});
        throw e;
      }
      bar.end();
      print(formatObject(await images.show(img.id), formatFrom(opts)));
    }),
  );
}

function pullCommand(): Command {
  const c = withConnection(new Command('pull'))
    .description('pull an image through the repository with a single-use token (owner or admin)')
    .argument('<image>', 'image name or ID')
    .argument('<dest>', 'OCI layout directory to create')
    .requiredOption('--address <ip>', 'source address to pull from (the token is bound to it)')
    .requiredOption('--repository <url>', 'repository base URL, e.g. http://HOST:9696/repository');
  return c.action(
    action(async (image: string, dest: string, opts: Opts) => {
      const images = new ImageClient(clientFrom(opts));
      const img = await images.resolve(image);
      const { repository_token: t } = await images.issueToken(img.id, String(opts.address));
      const { pullImage } = await import('../client/repository-pull.js');
      const bar = transferProgress(process.stderr, `pulling ${img.name ?? img.id}`);
      try {
        await pullImage({
          repositoryUrl: String(opts.repository),
          token: t.token,
          imageId: img.id,
          dest,
          localAddress: String(opts.address),
          onProgress: (done, total) => bar.update(done, total),
        });
      } finally {
        bar.end();
      }
      print(`pulled ${img.id} into ${dest}`);
    }),
  );
}

export function imageCommand(): Command {
  const group = new Command('image').description('manage container images (OCI) in the catalog');
  group.addCommand(pushCommand());
  group.addCommand(
    withOutput(withConnection(new Command('list')))
      .description('list images')
      .action(
        action(async (opts: Opts) => {
          const list = await new ImageClient(clientFrom(opts)).list();
          print(formatList(list as ImageWire[], COLUMNS, formatFrom(opts)));
        }),
      ),
  );
  group.addCommand(
    withOutput(withConnection(new Command('show')))
      .description('show an image')
      .argument('<image>', 'name or ID')
      .action(
        action(async (image: string, opts: Opts) => {
          print(formatObject(await new ImageClient(clientFrom(opts)).resolve(image), formatFrom(opts)));
        }),
      ),
  );
  group.addCommand(
    withConnection(new Command('delete'))
      .description('delete images')
      .argument('<images...>', 'names or IDs')
      .action(
        action(async (names: string[], opts: Opts) => {
          const images = new ImageClient(clientFrom(opts));
          for (const n of names) await images.delete((await images.resolve(n)).id);
        }),
      ),
  );
  group.addCommand(pullCommand());
  return group;
}
