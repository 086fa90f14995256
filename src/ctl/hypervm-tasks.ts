/**
 * `hypernet hypervm snapshot ID --name N` and `hypernet hypervm migrate ID --to CLOUD`: start the task
 * on the server, then follow it by polling the HyperVM and printing each step the node reports on
 * stderr (the upload as a bar); the result (the snapshot's image, the migration's downtime) goes to
 * stdout. A failed task exits non-zero with the node's reason.
 */
import { Command } from 'commander';
import type { ApiClient } from '../client/api.js';
import type { HyperVm } from '../model/types.js';
import { progressBar } from './progress.js';
import { resolveId } from './resolve.js';
import { action, clientFrom, print, withConnection } from './run.js';

type Opts = Record<string, unknown>;

/** One step line, e.g. "migrate: uploading [##########          ] 50%". Pure. */
export function stepLine(task: string, state: string): string {
  const m = /^uploading (\d+)%$/.exec(state);
  return m ? `${task}: uploading ${progressBar(Number(m[1]), 100)} ${m[1]}%` : `${task}: ${state}`;
}

/**
 * Polls until the task is over and the HyperVM settled (ACTIVE or ERROR), printing each new step.
 * Resolves with the HyperVM as it ended.
 */
export async function followTask(
  api: ApiClient,
  id: string,
  task: string,
  out: (line: string) => void,
  timeoutMs = 300_000,
): Promise<HyperVm> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    const hv = await api.show<HyperVm>('hypervms', 'hypervm', id);
    const step = hv.task === '' ? hv.task_state : hv.task_state || 'requested';
    if (step !== last && step !== '') out(stepLine(task, step));
    last = step;
    if (hv.task === '' && (hv.status === 'ACTIVE' || hv.status === 'ERROR')) return hv;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${task} of HyperVM ${id} did not finish within ${timeoutMs / 1000} s`);
}

function taskCommand(name: 'snapshot' | 'migrate'): Command {
  const c = withConnection(new Command(name)).argument('<hypervm>', 'HyperVM name or ID');
  if (name === 'snapshot')
    c.description('export the running container as a new image of its tenant').requiredOption(
      '--name <name>',
      'the new image name',
    );
  else c.description('move the container to a HyperVM node of another cloud').requiredOption('--to <cloud>', 'cloud');
  return c.action(
    action(async (ref: string, opts: Opts) => {
      const api = clientFrom(opts);
      const id = await resolveId(api, 'hypervm', ref);
      const body = name === 'snapshot' ? { snapshot: { name: opts.name } } : { migrate: { cloud: opts.to } };
      const started = await api.call<Record<string, { image_id: string; host?: string }>>(
        'POST',
        `/v2.0/hypervms/${encodeURIComponent(id)}/${name}`,
        body,
      );
      const imageId = started[name].image_id;
      const hv = await followTask(api, id, name, (line) => process.stderr.write(`${line}\n`));
      if (/ failed: /.test(hv.task_state)) throw new Error(hv.task_state);
      if (name === 'snapshot') print(`snapshot of ${id}: image ${imageId}`);
      else {
        if (hv.status === 'ERROR') throw new Error(`migrate failed: ${hv.status_reason}`);
        print(`migrated ${id} to ${hv.host} (${hv.cloud}): downtime ${hv.downtime_ms} ms`);
      }
    }),
  );
}

/** The task subcommands added to `hypernet hypervm`. */
export function hyperVmTaskCommands(): Command[] {
  return [taskCommand('snapshot'), taskCommand('migrate')];
}
