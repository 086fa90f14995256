/**
 * The `hypernet` executable: one commander program; each subsystem adds its own subcommands
 * through a `register(program)` function in its `command.ts`.
 */
import { Command } from 'commander';

const program = new Command('hypernet')
  .description('one virtual L2 network stretched across clouds')
  .version('0.1.0')
  .showHelpAfterError();

// Subsystems register their commands here, one line each.
(await import('./agent/command.js')).register(program);
(await import('./ctl/command.js')).register(program);
(await import('./lab/command.js')).register(program);
(await import('./server/command.js')).register(program, { providers: (await import('./providers.js')).PROVIDERS });
(await import('./server/db-command.js')).register(program);

await program.parseAsync(process.argv);
