// "A journaled, interruptible execution", the one sequence `run` and `rollback` share around the engine: the summary says
// running, SIGINT/SIGTERM/SIGHUP stop at the next safe point (a second SIGINT/SIGTERM records a forced exit), the engine runs,
// the summary says how it ended; then, when it did not succeed, what is left out of place and the error that sets the exit
// code (an interruption: 130/143/129; a bug in certroll: thrown as it is, exit 70; else the step's own error).
import { Interrupted } from '../errors.js';
import type { EngineResult, StepOutcome } from '../apply/engine.js';
import type { RunState, RunSummary } from '../journal/journal.js';
import { interruptible } from './interrupt.js';

/** The fields of run.json an execution writes (the caller adds run id, inventory, playbook, start time, kind). */
export type ExecutionSummary = Pick<RunSummary, 'state'> & Partial<Pick<RunSummary, 'endedAt' | 'stoppedAt' | 'error' | 'undone' | 'skippedByOperator'>>;

export interface ExecutionSpec<R extends EngineResult = EngineResult> {
  /** `run`: a failure past the point of no return is completed-with-errors, and run.json lists the steps left undone. */
  what: 'run' | 'rollback';
  /** Write run.json with these fields. */
  summary(s: ExecutionSummary): Promise<unknown>;
  /** Run the plan on the engine, stopping at its next safe point once `signal` aborts. */
  apply(signal: AbortSignal): Promise<R>;
}

export interface Execution<R extends EngineResult = EngineResult> {
  result: R;
  state: RunState;
  /** Stopped by a signal (or failed while stopping for one). */
  interrupted: boolean;
  /** The error's message, when it did not succeed. */
  message?: string;
  /** Steps that failed or did not run. */
  undone: StepOutcome[];
  wallMs: number;
}

/** Run the plan journaled and interruptible; never throws because a step failed (endExecution does). */
export async function journaledExecution<R extends EngineResult>(spec: ExecutionSpec<R>): Promise<Execution<R>> {
  await spec.summary({ state: 'running' });
  const interrupt = interruptible(spec.what, () => spec.summary({ state: 'interrupted', endedAt: new Date().toISOString(), error: 'forced exit (second interrupt)' }));
  const t0 = Date.now();
  const result = await spec.apply(interrupt.signal).finally(() => interrupt.dispose());
  const wallMs = Date.now() - t0;
  const interrupted = result.bug === undefined && (result.error instanceof Interrupted || (result.error !== undefined && interrupt.signal.aborted));
  const undone = result.outcomes.filter((o) => o.state === 'failed' || o.state === 'not-run');
  const state: RunState =
    result.error === undefined ? 'succeeded' : interrupted ? 'interrupted' : spec.what === 'run' && result.pastNoReturn && result.bug === undefined ? 'completed-with-errors' : 'failed';
  const message = result.error === undefined ? undefined : result.bug !== undefined ? `internal error: ${(result.bug as Error).message}` : (result.error as Error).message;
  const skippedByOperator = result.outcomes.filter((o) => o.state === 'done-by-operator').map((o) => o.label);
  await spec.summary({
    state,
    endedAt: new Date().toISOString(),
    ...(result.stoppedAt ? { stoppedAt: result.stoppedAt } : {}),
    ...(message ? { error: message } : {}),
    ...(spec.what === 'run' && undone.length ? { undone: undone.map((o) => o.label) } : {}),
    ...(spec.what === 'run' && skippedByOperator.length ? { skippedByOperator } : {}),
  });
  return { result, state, interrupted, undone, wallMs, ...(message ? { message } : {}) };
}

export interface EndOptions {
  /** --json: stdout holds only data, nothing more is said. */
  json: boolean;
  say(line: string): void;
  /** What is out of place on the hosts (parked members, other files, locks); undefined: not said. */
  leftOut?: () => Promise<string>;
  /** The red line: where it stopped, the journal, what to do next. */
  stopped: string;
  /** Added to the message of a failure that happened while stopping for a signal. */
  interruptedHint: string;
}

/** After a journaled execution that did not succeed: say what is left out and where it stopped, then throw the error that sets the exit code. */
export async function endExecution(x: Execution, o: EndOptions): Promise<void> {
  const { result } = x;
  if (result.error === undefined) return;
  if (!o.json) {
    if (o.leftOut) o.say(`\n${await o.leftOut()}`);
    o.say(o.stopped);
  }
  if (result.bug !== undefined) throw result.bug;
  if (x.interrupted && !(result.error instanceof Interrupted)) throw new Interrupted(`${x.message}\n${o.interruptedHint}`);
  throw result.error;
}
