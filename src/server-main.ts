/**
 * Stand-alone entry of the server (`node dist/src/server-main.js [server flags]`), the same as
 * `hypernet server` without loading the other subsystems: the benchmark and CLI tests spawn it.
 */
import { Command } from 'commander';
import { PROVIDERS } from './providers.js';
import { register } from './server/command.js';

const program = new Command('hypernet');
register(program, { providers: PROVIDERS });
await program.parseAsync(['node', 'hypernet', 'server', ...process.argv.slice(2)]);
