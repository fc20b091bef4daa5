// What every command shares: global options, the exit code a command sets, output mode and confirmation prompts.
import type { Argv } from 'yargs';
import { ExitCode, SafetyStop, UsageError } from '../errors.js';
import { detectOutputMode, type OutputMode } from './output.js';
import { palette, type Palette } from '../render/text.js';
import { checkFlags, numberOption } from './flags.js';
import { withAnsibleOptions } from './ansible-options.js';
import type { Inputs } from '../run/inputs.js';

/** The exit code the running command chose (main() returns it). */
export const commandResult = { exitCode: ExitCode.ok as number };

export function setExitCode(code: number): void {
  commandResult.exitCode = Math.max(commandResult.exitCode, code);
}

export interface GlobalOptions {
  inventory: string;
  limit?: string;
  forks: number;
  json: boolean;
  color?: boolean;
  'accept-new-host-keys': boolean;
}

/** How a command declares the fleet options (the only place they are declared). */
export interface FleetOptionsOf {
  /** `run --resume` and `rollback` take the inventory from the journal when -i is left out. */
  inventoryFromJournal?: boolean;
  /** What --json prints, when the command says more than "JSON on stdout". */
  json?: string;
}

/**
 * The options of every command that contacts hosts, declared once: -i (certroll or Ansible inventory, with --group-map and
 * --overlay), --limit, --forks, --json, --color, --accept-new-host-keys; their values checked by checkFlags before any file
 * is read or host contacted.
 */
export function withFleetOptions<T>(y: Argv<T>, o: FleetOptionsOf = {}) {
  const inventory = 'Inventory: certroll YAML, or Ansible INI/YAML (docs/fleets.md)';
  return withAnsibleOptions(y)
    .option('inventory', {
      alias: 'i',
      type: 'string',
      ...(o.inventoryFromJournal ? { describe: `${inventory}; default: the run's, from the journal` } : { demandOption: 'Name the inventory with -i FILE (see inventories/).', describe: inventory }),
    })
    .option('limit', { alias: 'l', type: 'string', describe: 'Select hosts by name, group or glob (Ansible-like: a,b  group:!host  web*  a:&b)' })
    .option('forks', numberOption('forks', 'Hosts handled in parallel', 20))
    .option('json', { type: 'boolean', default: false, describe: o.json ?? 'Machine-readable JSON on stdout' })
    .option('color', { type: 'boolean', describe: 'Force colours on/off (default: on for a TTY, off with NO_COLOR)' })
    .option('accept-new-host-keys', { type: 'boolean', default: false, describe: 'Add unknown host keys to known_hosts (changed keys are always refused)' })
    .middleware(checkFlags as never, true);
}

export interface Ui {
  mode: OutputMode;
  p: Palette;
  /** Human text: stdout normally, stderr in --json mode so stdout holds only data. */
  say(line: string): void;
  /** Data for --json. */
  data(value: unknown): void;
}

export function makeUi(opts: { json?: boolean; color?: boolean }): Ui {
  const mode = detectOutputMode(opts);
  const p = palette(mode.color);
  return {
    mode,
    p,
    say: (line) => (mode.json ? process.stderr : process.stdout).write(line + '\n'),
    data: (value) => process.stdout.write(JSON.stringify(value, null, 2) + '\n'),
  };
}

/** Ask for a secret on the terminal without echoing it; refuses when stdin is not a terminal (CI: use the env variables). */
export function askSecret(question: string, envHint: string): () => Promise<string> {
  return async () => {
    if (!process.stdin.isTTY) throw new UsageError(`${question.replace(/:\s*$/, '')} needed but stdin is not a terminal: set ${envHint}`);
    const { createInterface } = await import('node:readline');
    return new Promise<string>((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
      const out = rl as unknown as { _writeToOutput: (s: string) => void };
      let asked = false;
      out._writeToOutput = (s: string) => {
        if (!asked) process.stderr.write(s);
        asked = true;
      };
      rl.question(question, (answer) => {
        rl.close();
        process.stderr.write('\n');
        resolve(answer);
      });
    });
  };
}

/**
 * The environment the use-case reads secrets from: process.env, plus the Manager database password asked on the terminal
 * when the inputs need it and the environment lacks it (kept in memory; process.env is not changed). Without a terminal
 * the missing variable is left missing: the plan blocks, naming it.
 */
export async function secretsEnv(inputs: Inputs): Promise<NodeJS.ProcessEnv> {
  // Loaded on use: main.ts loads this module for every command, --help included (start-up time, src/cli/commands/heads.ts).
  const { missingManagerDbPassword } = await import('../run/inputs.js');
  const db = missingManagerDbPassword(inputs, process.env);
  if (!db || !process.stdin.isTTY) return process.env;
  return { ...process.env, [db.passwordEnv]: await askSecret(`Password of ${db.user}@${db.host}:${db.port}/${db.database}: `, db.passwordEnv)() };
}

/** The interactive prompts of the SSH layer (identity passphrase, SSH password, sudo password). */
export function sshPrompts() {
  return {
    passphrase: askSecret('Passphrase for the SSH identity file: ', 'CERTROLL_KEY_PASSPHRASE'),
    password: askSecret('SSH password: ', 'CERTROLL_SSH_PASSWORD'),
    becomePassword: askSecret('sudo password: ', 'CERTROLL_BECOME_PASSWORD'),
  };
}

/** Ask the operator to type "yes" (skipped with --yes; refused without a terminal, saying how to review first). */
export async function confirmOrStop(yes: boolean, question: string, reviewHint: string): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new SafetyStop('confirm', 'confirmation needed but stdin is not a terminal', `${reviewHint} and pass --yes`);
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = (await rl.question(`${question} Type "yes" to go on: `)).trim();
  rl.close();
  if (answer !== 'yes') throw new SafetyStop('confirm', 'not confirmed; nothing was changed');
}

// The stop signals, the interruptible scope and the terminal guards live with the journaled execution (src/run/interrupt.ts).
export { STOP_SIGNALS, type StopSignal, stopRequest, interruptExitCode, interruptible, ignoreOutputErrors, releaseLostTerminal } from '../run/interrupt.js';
