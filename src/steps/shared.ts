// Small helpers the step modules share: managed file roles and paths, sleep, staging, journaled changes.
import type { Playbook } from '../playbook/types.js';
import type { FileRole } from '../plan/types.js';

export const roles: FileRole[] = ['key', 'cert', 'ca'];

export function fileOf(playbook: Playbook, role: FileRole): string {
  return playbook.files[role];
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

import type { Action } from '../plan/types.js';
import { failpoint } from '../failpoint.js';
import { stagedName } from '../host-paths.js';
import type { ApplyContext, PlanContext } from './types.js';
import { HostError } from '../errors.js';
import { writeFilesAtomic } from '../ssh/write-batch.js';
import { Secret } from '../secret.js';

export type StageAction = Extract<Action, { kind: 'stage' }>;

/** Stage actions of `roles` on `host`: owner and mode follow the live file (keys always 0600). */
export function stageActions(ctx: PlanContext, host: string, rolesToStage: FileRole[]): StageAction[] {
  const m = ctx.material;
  if (!m) return [];
  const h = ctx.host(host);
  const f = ctx.hostFacts(host);
  return rolesToStage.map((role) => {
    const file = fileOf(ctx.playbook, role);
    const live = f?.certDir.files.find((x) => x.path === file);
    const secret = role === 'key';
    const mode = secret ? 0o600 : (live?.mode ?? 0o644);
    return {
      kind: 'stage',
      host,
      role,
      path: `${h.vars.certDir}/${file}`,
      staged: stagedName(h.vars.certDir, file, ctx.runId),
      sha256: m.files[role].sha256,
      size: m.files[role].size,
      mode,
      uid: live?.uid ?? f?.certDir.uid ?? 0,
      gid: live?.gid ?? f?.certDir.gid ?? 0,
      ...(m.files[role].notAfter ? { notAfter: m.files[role].notAfter } : {}),
      secret,
    };
  });
}

/**
 * Upload staged files to one host in one exec (src/ssh/write-batch.ts): each is written to a temporary name, fsynced and
 * checked against the plan's sha256 on the host; only when every one checks out are they renamed to their staged names.
 */
export async function applyStage(ctx: ApplyContext, host: string, actions: StageAction[], report: (m: string) => void): Promise<void> {
  if (!ctx.material) throw new Error('no certificate material to stage');
  if (!actions.length) return;
  const material = ctx.material;
  const files = actions.map((a) => {
    const content = material.files[a.role].content;
    return { path: a.staged, data: content instanceof Secret ? content.reveal() : content, mode: a.mode, uid: a.uid, gid: a.gid, sha256: a.sha256 };
  });
  try {
    await writeFilesAtomic(ctx.remote(host), files);
  } catch (err) {
    const bad = err instanceof HostError && actions.find((a) => err.shortMessage.includes(`${a.staged} written does not have`));
    if (bad)
      throw new HostError(host, 'transfer', `${host}: staged ${bad.staged} does not have the expected sha256 ${bad.sha256.slice(0, 16)}…`, 'the live files were not touched; run again (or resume) to re-upload');
    throw err;
  }
  failpoint('stage.after');
  report(`staged ${actions.map((a) => a.path.split('/').pop()).join(', ')} (sha256 verified)`);
}

/**
 * One change on a host, journaled write-ahead: the intent is flushed to the journal before the change starts and the
 * result after it, so that a resume after a crash knows what may be half done (each change is idempotent to redo).
 * `what` names the change and its failpoints (`<what>.before`, `<what>.after`: src/failpoint.ts).
 */
export async function change<T>(ctx: Pick<ApplyContext, 'journalIntent'>, host: string, what: string, detail: string, fn: () => Promise<T>): Promise<T> {
  await ctx.journalIntent?.({ event: 'intent', host, message: `${what}: ${detail}` });
  failpoint(`${what}.before`);
  const r = await fn();
  await ctx.journalIntent?.({ event: 'result', host, message: `${what}: done` });
  failpoint(`${what}.after`);
  return r;
}
