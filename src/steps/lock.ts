// The per-cluster run lock on a host: a directory beside the cert dir, created atomically with mkdir, naming its holder.
import { SafetyStop } from '../errors.js';
import { lockDirOf } from '../host-paths.js';
import { raw, sh } from '../ssh/quote.js';
import type { Remote } from '../ssh/remote.js';

export interface LockOwner {
  /** The run (or rollback) id; a lock already held by the same id is taken again (resume). */
  runId: string;
  startedAt: string;
  controlHost: string;
  user: string;
  /** Process id on controlHost; takeLock fills it in with this process's. */
  pid?: number;
  /** The step the holder is in, when it records one. */
  step?: string;
  [more: string]: unknown;
}

/** Take the lock on one host, or throw SafetyStop('lock-held') naming the holder. `breakLock` removes a stale one first. */
export async function takeLock(r: Remote, certDir: string, owner: LockOwner, breakLock: boolean): Promise<void> {
  const { script, stdin } = takeLockScript(certDir, owner, breakLock);
  lockTaken(r.host, certDir, (await r.sh(script, { stdin })).stdout);
}

/** The script that takes the lock (its stdin: the owner record); lockTaken judges its output. */
export function takeLockScript(certDir: string, owner: LockOwner, breakLock: boolean): { script: string; stdin: string } {
  const lockDir = lockDirOf(certDir);
  // The lock directory appears with its owner file already inside: it is made under a run-specific name, filled, then
  // renamed into place (rename fails when the lock exists). A process killed at any instant leaves no lock without an owner.
  const tmp = `${lockDir}.tmp-${owner.runId}`;
  return {
    script: sh`${raw(breakLock ? sh`rm -rf -- ${lockDir};` : '')} rm -rf -- ${tmp} && mkdir -- ${tmp} && cat > ${tmp}/owner.json && if mv -T -- ${tmp} ${lockDir} 2>/dev/null; then echo @@locked; else rm -rf -- ${tmp}; if grep -qF -- ${owner.runId} ${lockDir}/owner.json 2>/dev/null; then echo @@locked; else cat ${lockDir}/owner.json 2>/dev/null; echo; echo @@held; fi; fi`,
    stdin: JSON.stringify({ pid: process.pid, ...owner }),
  };
}

/** Returns when takeLockScript's output says the lock is this run's; else throws SafetyStop('lock-held') naming the holder. */
export function lockTaken(host: string, certDir: string, stdout: string): void {
  if (stdout.includes('@@locked')) return;
  const lockDir = lockDirOf(certDir);
  let holder = stdout.replace('@@held', '').trim() || 'no owner file: a certroll process died while taking it';
  try {
    const o = JSON.parse(holder) as { runId: string; startedAt: string; controlHost?: string };
    holder = `run ${o.runId}, started ${o.startedAt}${o.controlHost ? ` from ${o.controlHost}` : ''}`;
  } catch {
    /* keep the raw text */
  }
  throw new SafetyStop('lock-held', `${host}: another certroll run holds the lock ${lockDir} (${holder})`, 'wait for that run to end, or pass --break-lock if it is stale; nothing was changed', host);
}

/** Release the lock on one host if this run holds it; never throws. */
export async function releaseLock(r: Remote, certDir: string, runId: string): Promise<void> {
  const lock = lockDirOf(certDir);
  await r.sh(sh`grep -qF -- ${runId} ${lock}/owner.json 2>/dev/null && rm -rf -- ${lock}`, { allowFailure: true, timeoutMs: 15_000 }).catch(() => undefined);
}

/**
 * Whether a lock was left by a certroll process that is gone: taken on this very machine (same host name) by a pid that no
 * longer exists. A lock from another machine can never be judged from here (--break-lock is then the operator's call).
 */
export function lockIsStale(lock: { controlHost?: string; pid?: number } | null, thisHost: string): boolean {
  if (!lock || lock.controlHost !== thisHost || typeof lock.pid !== 'number' || lock.pid <= 0) return false;
  try {
    process.kill(lock.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Record the step a run is at in its lock (owner.json gains `step`), so that `status` can say where a dead run stopped. Never throws. */
export async function noteLockStep(r: Remote, certDir: string, owner: LockOwner, step: string): Promise<void> {
  await r.sh(lockStepNoteScript(certDir, owner, step), { allowFailure: true, timeoutMs: 15_000 }).catch(() => undefined);
}

/**
 * noteLockStep's script: owner.json is rewritten with the step (a temporary file renamed over it) only while it names
 * this run; a lock that is gone or another run's is left alone. The record travels on the command line (it holds no
 * secret: run id, times, machine, user, pid, step), so that the script can also ride in front of another command
 * (ExecOptions.prelude: the engine's note at a step's start, src/apply/step-note.ts).
 */
export function lockStepNoteScript(certDir: string, owner: LockOwner, step: string): string {
  const lock = lockDirOf(certDir);
  return sh`grep -qF -- ${owner.runId} ${lock}/owner.json 2>/dev/null && printf '%s' ${JSON.stringify({ pid: process.pid, ...owner, step })} > ${lock}/owner.json.tmp && mv -f -- ${lock}/owner.json.tmp ${lock}/owner.json`;
}

/** The lock owner record of a run (what preflight writes; noteLockStep rewrites it with the step). */
export function lockOwner(ctx: { runId: string; plan: { createdAt: string }; options: { controlHost: string; user: string; lockFields?: Record<string, string> } }): LockOwner {
  return { runId: ctx.runId, startedAt: ctx.plan.createdAt, controlHost: ctx.options.controlHost, user: ctx.options.user, ...ctx.options.lockFields };
}

/**
 * The end of every run and rollback on one host: after a failure, delete this run's staged files (`staged`, a find -name
 * pattern naming the run, anywhere under `dir`), then release the lock if this run holds it. Never throws: a lost
 * connection leaves the lock naming the run (--break-lock clears it). Returns what it did.
 */
export async function releaseHost(r: Remote, o: { dir: string; staged: string; runId: string; deleteStaged: boolean; holdsLock: boolean }): Promise<string> {
  const done: string[] = [];
  try {
    if (o.deleteStaged) {
      await r.sh(sh`find ${o.dir} -name ${o.staged} -type f -delete`, { allowFailure: true, timeoutMs: 15_000 });
      done.push(`staged files ${o.staged} deleted`);
    }
    if (o.holdsLock) {
      await releaseLock(r, o.dir, o.runId);
      done.push('lock released');
    }
  } catch {
    done.push('connection lost: the lock stays and names this run');
  }
  return done.join(', ') || 'nothing to release';
}
