// Executes a plan, a run's or a rollback's: each planned step's phases as listr2 tasks (per-host sub-tasks), journaled; the
// plan's cleanup step runs last whatever happened (should it not have run, the engine does the same release itself).
import type { ListrTask } from 'listr2';
import type * as listr2Module from 'listr2';
import { lazyRequire } from '../lazy.js';

const listr2 = lazyRequire<typeof listr2Module>('listr2');
import { Interrupted, isBug } from '../errors.js';
import { lockOwner, releaseHost } from '../steps/lock.js';
import { StepNote } from './step-note.js';
import { runStagedPattern } from '../host-paths.js';
import type { Journal } from '../journal/journal.js';
import { applyHalves } from '../steps/index.js';
import { hostInMessage } from './message-host.js';
import type { ApplyContext, Phase, WorkItem } from '../steps/types.js';
import type { PlanStepType } from '../plan/types.js';

export type RendererChoice = 'default' | 'simple' | 'silent';

export interface EngineEvent {
  event: 'step-start' | 'step-end' | 'item-start' | 'item-end' | 'item-failed' | 'message';
  step?: string;
  host?: string;
  title?: string;
  message?: string;
}

export interface EngineOptions {
  renderer: RendererChoice;
  forks: number;
  journal: Journal;
  onEvent?: (e: EngineEvent) => void;
}

/** How one planned step ended. */
export type StepState = 'done' | 'failed' | 'not-run' | 'done-earlier' | 'done-by-operator';

export interface StepOutcome {
  index: number;
  /** "6. restart-flannel" */
  label: string;
  type: PlanStepType;
  title: string;
  state: StepState;
  /** failed: the error; not-run: why (a step it needs failed, or the run was interrupted). */
  reason?: string;
  error?: unknown;
}

export interface EngineResult {
  /** The step (index and title) where the run stopped, when it did not finish. */
  stoppedAt?: string;
  /** The first error, when any step failed. */
  error?: unknown;
  /** Every planned step's outcome, in plan order. */
  outcomes: StepOutcome[];
  /** Whether a step that changes live state (certificates, manifests, the Manager) started: past the point of no return. */
  pastNoReturn: boolean;
  /**
   * A bug in certroll (isBug: TypeError, RangeError, ReferenceError) thrown by a step's apply half: no later step ran but the
   * always-run cleanup; the caller journals where it stopped and throws it on to the CLI (exit 70), never as a step failure.
   */
  bug?: unknown;
}

/**
 * The options of a top-level task list of steps, shared by `run` and `rollback`: one step at a time, Ctrl-C handled by the
 * caller (not listr2), plain timestamped lines when stdout is not a terminal. `exitOnError` false: the engine decides
 * itself which later steps still run after a failure (those that do not need the failed one).
 */
export function topLevelListrOptions(renderer: RendererChoice, exitOnError = true): never {
  return {
    concurrent: false,
    exitOnError,
    registerSignalListeners: false,
    renderer,
    fallbackRenderer: 'simple',
    rendererOptions: { collapseSubtasks: false, showErrorMessage: true },
    fallbackRendererOptions: { timestamp: listr2.PRESET_TIMESTAMP },
  } as never;
}

/** Why step `i` cannot run, given the outcomes so far: a step of a type it needs did not succeed; undefined when it can. */
export function blockedBy(steps: Array<{ type: PlanStepType; label: string }>, i: number, outcomes: StepOutcome[]): string | undefined {
  const needs = new Set<PlanStepType>(applyHalves[steps[i]!.type].needs);
  const bad = outcomes.filter((o) => o.index < i && needs.has(o.type) && (o.state === 'failed' || o.state === 'not-run'));
  return bad.length ? `needs ${bad.map((o) => `${o.label} (${o.state === 'failed' ? 'failed' : 'not run'})`).join(', ')}` : undefined;
}

export async function applyPlan(callerCtx: ApplyContext, opts: EngineOptions): Promise<EngineResult> {
  const emit = (e: EngineEvent) => {
    opts.onEvent?.(e);
    void opts.journal.event({ event: e.event, ...(e.step ? { step: e.step } : {}), ...(e.host ? { host: e.host } : {}), message: e.message ?? e.title }).catch(() => undefined);
  };
  const outcomes: StepOutcome[] = [];
  const labels = callerCtx.plan.steps.map((step) => ({ type: step.type, label: `${step.index + 1}. ${step.title}` }));
  const result: EngineResult = { outcomes, pastNoReturn: false };
  // The steps see whether anything failed so far (the cleanup phase deletes staged files then).
  const ctx: ApplyContext = { ...callerCtx, failed: () => result.error !== undefined };
  const record = async (o: StepOutcome) => {
    outcomes.push(o);
    const message = o.reason ?? (o.error ? firstLine(o.error) : undefined);
    await opts.journal.intent({ event: `step-${o.state}`, step: o.label, index: o.index, ...(message ? { message } : {}) }).catch(() => undefined);
  };
  const stepTasks: ListrTask[] = ctx.plan.steps.map((step, i) => {
    // A playbook step's spec; a rollback's steps have none (their actions say everything).
    const candidate = ctx.playbook.steps[step.index];
    const spec = candidate?.type === step.type ? candidate : undefined;
    const module = applyHalves[step.type];
    const label = labels[i]!.label;
    const base = { index: step.index, label, type: step.type, title: step.title };
    return {
      title: label,
      task: async (_c, task) => {
        if (step.done) {
          await record({ ...base, state: step.done === 'operator' ? 'done-by-operator' : 'done-earlier' });
          task.skip(`${label}: ${step.done === 'operator' ? 'done by hand (--skip)' : 'done by the stopped run'}`);
          return;
        }
        if (ctx.signal.aborted && !module.always) {
          await record({ ...base, state: 'not-run', reason: 'interrupted before it started' });
          result.error ??= new Interrupted(`interrupted before step ${label}`);
          result.stoppedAt ??= label;
          task.skip(`${label}: not run (interrupted)`);
          return;
        }
        if (result.bug !== undefined && !module.always) {
          await record({ ...base, state: 'not-run', reason: `an internal error in step ${result.stoppedAt} stopped the run` });
          task.skip(`${label}: not run (internal error)`);
          return;
        }
        const blocked = blockedBy(labels, i, outcomes);
        if (blocked) {
          await record({ ...base, state: 'not-run', reason: blocked });
          task.skip(`${label}: not run: ${blocked}`);
          return;
        }
        if (module.changesLiveState && step.actions.length) result.pastNoReturn = true;
        // The lock on the first master says where the run is (what `certroll status` shows if this process dies): the note
        // goes out no later than the step's first command, in front of it when that is an exec on the first master.
        const fm = ctx.inventory.firstMaster;
        const stepCtx: ApplyContext = ctx.locked.has(fm)
          ? { ...ctx, remote: new StepNote(ctx.remote, { host: fm, certDir: ctx.inventory.hosts.find((h) => h.name === fm)!.vars.certDir, owner: lockOwner(ctx), step: label }).remote }
          : ctx;
        emit({ event: 'step-start', step: label });
        const phases = ([] as Phase[]).concat(module.apply(step, spec as never, stepCtx));
        const toTask = (ph: Phase): ListrTask => ({
          title: ph.title ?? label,
          task: async (_c2, t2) => {
            const errors: unknown[] = [];
            const sub = t2.newListr(
              ph.items.map((item) => itemTask(item, label, emit, errors, ctx, module.always === true)),
              { concurrent: ph.concurrent ? opts.forks : false, exitOnError: !ph.concurrent },
            );
            await sub.run();
            if (errors.length) throw errors[0];
          },
        });
        try {
          const sub = task.newListr(phases.length === 1 && !phases[0]!.title ? [toTask({ ...phases[0]!, title: 'hosts' })] : phases.map(toTask), { concurrent: false, exitOnError: true });
          await sub.run();
        } catch (e) {
          await record({ ...base, state: 'failed', error: e });
          if (isBug(e) && result.bug === undefined) {
            // A bug outranks an earlier ordinary failure: it is what the caller reports (exit 70).
            result.bug = e;
            result.error = e;
            result.stoppedAt = label;
          }
          result.error ??= e;
          result.stoppedAt ??= label;
          throw e;
        }
        await record({ ...base, state: 'done' });
        emit({ event: 'step-end', step: label });
      },
    };
  });
  // Before the point of no return a failure stops the run (nothing changed); after it, independent steps still run.
  const list = new listr2.Listr(stepTasks, topLevelListrOptions(opts.renderer, false));
  try {
    await list.run();
  } catch (e) {
    result.error ??= e;
  } finally {
    // Every plan ends with its cleanup step; should that step not have run (a plan made without one, the task list itself
    // failing), the run still ends the same way: staged files deleted after a failure, locks released.
    if (!outcomes.some((o) => o.type === 'cleanup')) await cleanUp(ctx, result.error !== undefined);
  }
  return result;
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

function itemTask(item: WorkItem, step: string, emit: (e: EngineEvent) => void, errors: unknown[], ctx: ApplyContext, always: boolean): ListrTask {
  return {
    title: item.title,
    task: async (_c, t) => {
      if (ctx.signal.aborted && !always) throw new Interrupted(`interrupted before "${item.title}" in step ${step}`);
      // Every event names its host: an item without one (rolling-restart's "node 1/3") gets it from its messages.
      let host = item.host;
      const on = () => (host ? { host } : {});
      emit({ event: 'item-start', step, ...on(), title: item.title });
      try {
        await item.run((message) => {
          t.output = message;
          if (message !== 'ok') t.title = `${item.title}: ${message}`;
          host = item.host ?? hostInMessage(message, ctx.inventory.hosts.map((h) => h.name)) ?? host;
          emit({ event: 'message', step, ...on(), title: item.title, message });
        });
        emit({ event: 'item-end', step, ...on(), title: item.title });
      } catch (e) {
        errors.push(e);
        emit({ event: 'item-failed', step, ...on(), title: item.title, message: (e as Error).message });
        throw e;
      }
    },
  };
}

/** Remove this run's staged files after a failure (distribution's and rollback-node's restore copies) and release this run's locks, on every connected host; never throws. */
async function cleanUp(ctx: ApplyContext, failed: boolean): Promise<void> {
  await Promise.all(
    [...ctx.remotes.entries()].map(async ([name, r]) => {
      const host = ctx.inventory.hosts.find((h) => h.name === name);
      if (!host) return;
      await releaseHost(r, { dir: host.vars.certDir, staged: runStagedPattern(ctx.runId), runId: ctx.runId, deleteStaged: failed, holdsLock: ctx.locked.has(name) });
      ctx.locked.delete(name);
    }),
  );
}
