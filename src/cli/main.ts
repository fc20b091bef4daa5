// certroll's entry point and its one error boundary: parses the command line, runs a command, maps errors to exit codes.
import yargs, { type Argv } from 'yargs';
import { CompletedWithErrors, ExitCode, HostError, InputError, Interrupted, SafetyStop, UsageError } from '../errors.js';
import { detectOutputMode } from './output.js';
import { palette } from '../render/text.js';
import { commandResult, ignoreOutputErrors, interruptExitCode } from './common.js';
import { commandsFor } from './commands/index.js';

/** Thrown once `--explain-ssh` has printed its answer: the command itself does not run (exit 0). */
class Explained extends Error {}

export async function main(argv: string[]): Promise<number> {
  ignoreOutputErrors();
  let jsonMode = argv.includes('--json');
  const p = palette(detectOutputMode({ json: jsonMode }).color && Boolean(process.stderr.isTTY));
  try {
    let cli: Argv = yargs(argv)
      .scriptName('certroll')
      .usage('$0 <command> [options]\n\nRenew and roll out TLS certificates across self-hosted Kubernetes/etcd fleets over SSH.')
      .strict()
      .demandCommand(1, 'Name a command: check, plan, run, runs, … (certroll --help lists them).')
      .recommendCommands()
      .wrap(Math.min(110, process.stdout.columns || 100))
      .epilogue(EXIT_CODES_HELP)
      .fail((msg, err) => {
        // yargs' own parse errors (YError) are usage errors (exit 3), never "a bug in certroll".
        throw err && err.name !== 'YError' ? err : new UsageError(err?.message ?? msg);
      })
      // `certroll completion` prints the script (bash; zsh when $SHELL or $ZSH_NAME says zsh); the script asks
      // `certroll --get-yargs-completions WORDS…` for commands, options and --format-style choices (docs/completion.md).
      .completion('completion', 'Print the shell completion script (bash, or zsh when $SHELL is zsh): certroll completion >> ~/.bashrc')
      // Every command that takes -i: print how one host's SSH settings were chosen (inventory, OpenSSH config file:line,
      // defaults) and stop before any host is contacted (the same answer as `certroll inventory show --explain-ssh`).
      .option('explain-ssh', { type: 'string', describe: 'Show how HOST\'s SSH settings were chosen (inventory, OpenSSH config file:line, defaults) and exit without contacting any host' })
      .middleware((async (a: { _: unknown[]; 'explain-ssh'?: unknown; inventory?: unknown; json?: unknown; color?: unknown }) => {
        const host = a['explain-ssh'];
        if (host === undefined || a._[0] === 'inventory') return;
        if (typeof host !== 'string' || !host.trim()) throw new UsageError('--explain-ssh: name a host of the inventory');
        const { explainSsh } = await import('./commands/inventory.js');
        explainSsh(a, host);
        throw new Explained();
      }) as never)
      .help()
      .alias('h', 'help')
      .version();
    for (const c of await commandsFor(argv)) cli = cli.command(c as never);
    skipHelpCache(cli);
    await cli.parseAsync();
    return commandResult.exitCode;
  } catch (err) {
    if (err instanceof Explained) return ExitCode.ok;
    return reportError(err, p);
  }
}

/**
 * yargs renders a command's whole help text (cliui, string-width's Unicode tables) each time it runs the command, in case
 * the handler calls showHelp() later; certroll never does, and its .fail() throws instead of printing help. That rendering
 * was a fifth of the CPU of `certroll runs` or of input refused at validation (docs/performance.md, "Start-up"). `--help`
 * does not go through this cache. Where yargs has no such hook (another version), nothing changes.
 */
export function skipHelpCache(cli: Argv): boolean {
  const usage = (cli as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: unknown } } }).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage !== 'function') return false;
  usage.cacheHelpMessage = () => undefined;
  return true;
}

const EXIT_CODES_HELP = `Exit codes:
  0    success (check: nothing expires within --warn-days)
  1    findings: check found certificates expiring within --warn-days or expired; plan found blocking problems
  2    a host could not be reached or a remote command failed
  3    bad input (inventory, playbook, command line); nothing was contacted
  4    a safety check stopped the run (lock held, quorum, health, precheck, confirmation refused)
  5    run completed with errors: past the point of no return some steps failed or did not run; the output lists them
       and the command that finishes the run (certroll run --resume RUN_ID [--skip STEP])
  70   internal error (a bug in certroll: please report it with the output)
  129  stopped by SIGHUP (terminal or SSH session closed) at a safe point; the journal says where
  130  interrupted (Ctrl-C, SIGINT) at a safe point
  143  stopped by SIGTERM at a safe point
       (after 129/130/143: certroll status -i INVENTORY shows the fleet; certroll run --resume RUN_ID finishes)`;

function reportError(err: unknown, p: ReturnType<typeof palette>): number {
  const out = (s: string) => process.stderr.write(s + '\n');
  if (err instanceof InputError) {
    out(p.red('error: invalid input'));
    out(err.message);
    return ExitCode.badInput;
  }
  if (err instanceof UsageError) {
    out(p.red(`error: ${err.message}`));
    out('Run with --help for usage.');
    return ExitCode.badInput;
  }
  if (err instanceof HostError) {
    out(p.red(`error: ${err.message}`));
    return ExitCode.hostFailure;
  }
  if (err instanceof SafetyStop) {
    out(p.red(`stopped: ${err.message}`));
    return ExitCode.safetyStop;
  }
  if (err instanceof CompletedWithErrors) {
    out(p.yellow(`completed with errors: ${err.message}`));
    return ExitCode.completedWithErrors;
  }
  if (err instanceof Interrupted) {
    out(p.yellow(`interrupted: ${err.message}`));
    return interruptExitCode();
  }
  const e = err as Error;
  out(p.red(`internal error: ${e?.message ?? String(err)}`));
  if (e?.stack) out(p.dim(e.stack));
  out('This is a bug in certroll; please report it with the output above.');
  return ExitCode.bug;
}
