// Every certroll command, in the order --help lists them. Each module is imported only when its name is on the command line
// (`commandsFor`): `certroll --help` and `certroll runs` do not load the SSH layer, the planner or the renewal code.
import type { CommandModule } from 'yargs';
import { heads, type CommandName } from './heads.js';

const loaders: Record<CommandName, () => Promise<CommandModule>> = {
  check: async () => (await import('./check.js')).checkCommand as CommandModule,
  plan: async () => (await import('./plan.js')).planCommand as CommandModule,
  run: async () => (await import('./run.js')).runCommand as CommandModule,
  status: async () => (await import('./status.js')).statusCommand as CommandModule,
  runs: async () => (await import('./runs.js')).runsCommand as CommandModule,
  rollback: async () => (await import('./rollback.js')).rollbackCommand as CommandModule,
  backups: async () => (await import('./backups.js')).backupsCommand as CommandModule,
  inventory: async () => (await import('./inventory.js')).inventoryCommand as CommandModule,
};

export const commandNames = Object.keys(heads) as CommandName[];

/**
 * The command modules for a command line: the full module of every command whose name appears as a word of `argv` (yargs
 * can only select a command by such a word), a head (name and description, for --help and "did you mean") for the others.
 * A head's handler is never reached; if it were, it would be a bug, not a silent no-op.
 */
export async function commandsFor(argv: readonly string[]): Promise<CommandModule[]> {
  const words = new Set(argv);
  return Promise.all(
    commandNames.map(async (name): Promise<CommandModule> =>
      words.has(name)
        ? loaders[name]()
        : {
            ...heads[name],
            handler: () => {
              throw new Error(`internal: command module "${name}" was not loaded`);
            },
          },
    ),
  );
}

/** Every command module, loaded (tests, completion of every command's options). */
export const allCommands = (): Promise<CommandModule[]> => commandsFor(commandNames);
