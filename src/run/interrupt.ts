// A journaled execution's process side: the signals that mean "stop at the next safe point" (and the exit code each ends
// the process with), and the guards that keep a closed terminal from crashing a run or turning its exit code into an abort.
import { closeSync, openSync } from 'node:fs';
import { isatty } from 'node:tty';
import { ExitCode } from '../errors.js';

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
