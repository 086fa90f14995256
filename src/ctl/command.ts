/**
 * The operators' commands of the `hypernet` CLI: one command group per API resource (built from
 * resources.ts), `hypernet status`, and `hypernet completion bash|zsh`.
 * Exit codes: 0 ok, 1 API error, 2 usage error, 3 cannot connect (errors.ts).
 */
import { Command } from 'commander';
import { ApiError, type ApiClient } from '../client/api.js';
import type { Agent, Network, Port, Subnet } from '../model/types.js';
import type { AgentlessPortWire, HyperswitchWire } from '../model/agentless.js';
import { bashCompletion, zshCompletion } from './completion.js';
import { UsageError } from './errors.js';
import { RESOURCES } from './resources.js';
import { resourceCommand } from './resource-commands.js';
import { action, clientFrom, formatFrom, print, usageExits, withConnection, withOutput } from './run.js';
import { computeStatus } from './status.js';
import { renderStatus } from './status-render.js';
import { formatObject } from './format.js';
import { imageCommand } from './image-command.js';
import { hyperVmTaskCommands } from './hypervm-tasks.js';
import { hyperVmConsoleCommand } from './hypervm-console.js';

/** A list of an optional extension's collection: [] when the server does not serve it (404). */
async function listIfServed<T>(client: ApiClient, plural: string): Promise<T[]> {
  try {
    return await client.list<T>(plural);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return [];
    throw e;
  }
}

function statusCommand(): Command {
  const c = new Command('status').description(
    'clouds, agents up/down, networks and port counts, hyperswitches, problems',
  );
  return withOutput(withConnection(c)).action(
    action(async (opts: Record<string, unknown>) => {
      const format = formatFrom(opts);
      const client = clientFrom(opts);
      const [agents, networks, subnets, ports, hyperswitches, agentlessPorts] = await Promise.all([
        client.list<Agent>('agents'),
        client.list<Network>('networks'),
        client.list<Subnet>('subnets'),
        client.list<Port>('ports'),
        listIfServed<HyperswitchWire>(client, 'hyperswitches'),
        listIfServed<AgentlessPortWire>(client, 'agentlessports'),
      ]);
      const report = computeStatus({ agents, networks, subnets, ports, hyperswitches, agentlessPorts }, Date.now());
      print(
        format === 'table' ? renderStatus(report) : formatObject(report as unknown as Record<string, unknown>, format),
      );
    }),
  );
}

function completionCommand(program: Command): Command {
  return new Command('completion')
    .description('print a shell completion script: source <(hypernet completion bash)')
    .argument('<shell>', 'bash or zsh')
    .action(
      action(async (shell: string) => {
        if (shell === 'bash') print(bashCompletion(program));
        else if (shell === 'zsh') print(zshCompletion(program));
        else throw new UsageError(`completion: expected bash or zsh, got ${JSON.stringify(shell)}`);
      }),
    );
}

export function register(program: Command): void {
  const cmds = [...RESOURCES.map(resourceCommand), imageCommand(), statusCommand(), completionCommand(program)];
  const hypervm = cmds.find((c) => c.name() === 'hypervm');
  for (const t of [...hyperVmTaskCommands(), hyperVmConsoleCommand()]) hypervm?.addCommand(t);
  for (const c of cmds) {
    const walk = (x: Command) => {
      usageExits(x);
      x.showHelpAfterError();
      x.commands.forEach(walk);
    };
    walk(c);
    program.addCommand(c);
  }
}
