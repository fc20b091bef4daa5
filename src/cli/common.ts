// What every command shares: global options, the exit code a command sets, output mode and confirmation prompts.
import type { Argv } from 'yargs';
import { closeSync, openSync } from 'node:fs';
import { isatty } from 'node:tty';
import { ExitCode, SafetyStop, UsageError } from '../errors.js';
import { detectOutputMode, type OutputMode } from './output.js';
import { palette, type Palette } from '../render/text.js';
import { checkFlags, numberOption } from './flags.js';
import { withAnsibleOptions } from './ansible-options.js';

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

/** The signals that mean "stop at the next safe point", and the exit code each ends the process with (128 + signal number). */
export const STOP_SIGNALS = { SIGINT: ExitCode.interrupted, SIGTERM: ExitCode.terminated, SIGHUP: ExitCode.hangup } as const;
export type StopSignal = keyof typeof STOP_SIGNALS;

/** The first stop signal this process received while changing hosts (main() picks the exit code from it). */
export const stopRequest = { signal: null as StopSignal | null };

/** The exit code of an interrupted command: follows the signal that stopped it (130 INT, 143 TERM, 129 HUP). */
export function interruptExitCode(): number {
  return stopRequest.signal ? STOP_SIGNALS[stopRequest.signal] : ExitCode.interrupted;
}

/**
 * SIGINT / SIGTERM / SIGHUP while changing hosts: the first aborts `signal` (the engine stops at its next safe point, a
 * parked member is put back), and the process later exits with that signal's code. A second SIGINT or SIGTERM records the
 * forced exit with `onForcedExit` and exits. A repeated SIGHUP is not a second request (a closing terminal or SSH session
 * can send more than one): only the operator can force. Call dispose() when the work is over.
 */
export function interruptible(what: string, onForcedExit: () => Promise<unknown>): { signal: AbortSignal; dispose(): void } {
  const abort = new AbortController();
  const onSignal = (sig: StopSignal) => {
    if (!stopRequest.signal) {
      stopRequest.signal = sig;
      const how = sig === 'SIGHUP' ? 'terminal closed (SIGHUP)' : sig === 'SIGTERM' ? 'SIGTERM' : 'interrupt';
      process.stderr.write(`\n${how}: finishing the action in progress, then stopping at a safe point (press Ctrl-C again to force)\n`);
      abort.abort();
    } else if (sig !== 'SIGHUP') {
      process.stderr.write(`\nforced exit: the journal records where the ${what} stopped\n`);
      void onForcedExit().finally(() => {
        releaseLostTerminal();
        process.exit(STOP_SIGNALS[sig]);
      });
    }
  };
  const handlers = (Object.keys(STOP_SIGNALS) as StopSignal[]).map((sig) => [sig, () => onSignal(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  return {
    signal: abort.signal,
    dispose() {
      for (const [sig, h] of handlers) process.off(sig, h);
    },
  };
}

/** The standard descriptors (0, 1, 2) that were terminals when certroll started. */
let startTtys: number[] | null = null;

/**
 * A closed terminal or a reader that went away must not crash a run: write errors on stdout and stderr (EPIPE, EIO, a
 * destroyed stream) are swallowed. The journal is written to disk independently, so nothing is lost. Idempotent; call it
 * first thing (bin.ts), so that it also notes which descriptors are terminals.
 */
export function ignoreOutputErrors(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  startTtys ??= [0, 1, 2].filter((fd) => isatty(fd));
  for (const s of streams) {
    if (s.listeners('error').some((l) => (l as { certrollIgnore?: boolean }).certrollIgnore)) continue;
    const ignore = Object.assign(() => undefined, { certrollIgnore: true });
    s.on('error', ignore);
  }
}

/**
 * Call right before the process exits. When the terminal went away (a descriptor that was a terminal at start no longer
 * is one: the tty was hung up), point it at /dev/null. Otherwise Node 20, restoring the terminal's settings at exit, gets
 * EIO from tcsetattr and aborts (SIGABRT, "Assertion failed" in node::ResetStdio) instead of exiting with our code; Node
 * skips a descriptor that now refers to another file. A terminal that is still there is left alone (Node restores it).
 */
export function releaseLostTerminal(): void {
  for (const fd of startTtys ?? []) {
    if (isatty(fd)) continue;
    try {
      closeSync(fd);
      openSync('/dev/null', fd === 0 ? 'r' : 'w');
    } catch {
      /* a closed descriptor is skipped by Node too */
    }
  }
}
