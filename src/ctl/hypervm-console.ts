/**
 * `hypernet hypervm console ID`: a shell inside the HyperVM's container (as its root), relayed by the
 * server from the node that runs it. Standard input goes in, the shell's output comes out; the end of
 * input ends the shell (`exit`), so a script can pipe commands in and read their output.
 */
import { Command } from 'commander';
import { openConsole } from '../client/console.js';
import { resolveId } from './resolve.js';
import { action, clientFrom, withConnection } from './run.js';

export function hyperVmConsoleCommand(): Command {
  return withConnection(new Command('console'))
    .description("attach to the container's console (a shell; your own HyperVM, or any as admin)")
    .argument('<hypervm>', 'HyperVM name or ID')
    .action(
      action(async (ref: string, opts: Record<string, unknown>) => {
        const api = clientFrom(opts);
        const socket = await openConsole(api, await resolveId(api, 'hypervm', ref));
        // The end of input is the shell's `exit`, not a half-close (the relay's sockets close whole).
        process.stdin.pipe(socket, { end: false });
        process.stdin.on('end', () => socket.write('\nexit\n'));
        socket.pipe(process.stdout);
        await new Promise<void>((resolve) => socket.on('close', () => resolve()));
        process.stdin.unpipe(socket);
        process.stdin.destroy();
      }),
    );
}
