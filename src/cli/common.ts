// What every command shares: global options, the exit code a command sets, output mode and confirmation prompts.
import type { Argv } from 'yargs';
import { ExitCode } from '../errors.js';
import { detectOutputMode, palette, type OutputMode, type Palette } from './output.js';

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

/** Options shared by every command that talks to a fleet. */
export function withFleetOptions<T>(y: Argv<T>) {
  return y
    .option('inventory', { alias: 'i', type: 'string', demandOption: 'Name the inventory with -i FILE (see inventories/).', describe: 'Inventory YAML file' })
    .option('limit', { alias: 'l', type: 'string', describe: 'Select hosts by name, group or glob (Ansible-like: a,b  group:!host  web*  a:&b)' })
    .option('forks', { type: 'number', default: 20, describe: 'Hosts handled in parallel' })
    .option('json', { type: 'boolean', default: false, describe: 'Machine-readable JSON on stdout' })
    .option('color', { type: 'boolean', describe: 'Force colours on/off (default: on for a TTY, off with NO_COLOR)' })
    .option('accept-new-host-keys', { type: 'boolean', default: false, describe: 'Add unknown host keys to known_hosts (changed keys are always refused)' });
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
