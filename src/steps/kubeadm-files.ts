// What the kubeadm renewal steps share: their in-memory data (new files per host, made by the prepare half), the plan
// actions built from it, CA keys read into memory, resume recognition, and the apply half: stage beside each file, check
// the sha256 there, then one command per host renames every pair back to back and checks the live files' sha256.
import { writeFilesAtomic } from '../ssh/write-batch.js';
import { runSections } from '../ssh/sections.js';
import { readScript } from '../ssh/exec-transfer.js';
import { HostError } from '../errors.js';
import { sh } from '../ssh/quote.js';
import { Secret } from '../secret.js';
import { sha256 } from '../hash.js';
import { stagedName } from '../host-paths.js';
import { failpoint } from '../failpoint.js';
import { PkiError } from '../pki/index.js';
import type { Action, Warning } from '../plan/types.js';
import type { ApplyContext, Phase, PlanContext, PrepareContext, StepPlanResult } from './types.js';
import type { KubeadmFileFact } from '../facts/kubeadm.js';
import { change } from './shared.js';

/** One file as it will be on a host: its content stays in memory (a key, or a kubeconfig holding one, as a Secret). */
export interface NewFile {
  /** Absolute live path. */
  path: string;
  content: string | Secret<string>;
  sha256: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  secret: boolean;
  notAfter?: string;
}

export type RenewInfo = Omit<Extract<Action, { kind: 'renew-cert' }>, 'kind' | 'host'>;

/** One certificate renewed on one host: what the plan shows, and the files it writes (cert + key, or one kubeconfig). */
export interface Renewal {
  host: string;
  info: RenewInfo;
  files: NewFile[];
}

export interface KubeadmStepData {
  renewals: Renewal[];
  /** Per host: why something is left alone (kubelet.conf by path, external etcd, written by the stopped run…). */
  notes: string[];
}

export const emptyData = (notes: string[] = []): KubeadmStepData => ({ renewals: [], notes });

export function newFile(path: string, content: string | Secret<string>, live: KubeadmFileFact | null, secret: boolean, notAfter?: string): NewFile {
  const text = content instanceof Secret ? content.reveal() : content;
  return {
    path,
    content,
    sha256: sha256(text),
    size: Buffer.byteLength(text),
    mode: secret ? 0o600 : (live?.mode ?? 0o644),
    uid: live?.uid ?? 0,
    gid: live?.gid ?? 0,
    secret,
    ...(notAfter ? { notAfter } : {}),
  };
}

/** A PkiError (bad CA key, leaf not from its CA…) as a blocking finding naming the host and file; anything else is rethrown. */
export function pkiFinding(e: unknown, host: string, what: string): Warning {
  if (!(e instanceof PkiError)) throw e;
  return { level: 'block', code: e.code, host, message: `${host}: ${what}: ${e.issues.map((i) => i.message).join('; ')}` };
}

/**
 * The kubeadm steps write under the host's certDir, which is what preflight checks, the backup copies and a rollback
 * restores: it must be the kubernetes dir. A kubeadm inventory that leaves certDir at its TOS default is caught here.
 */
export function certDirFindings(ctx: PrepareContext, hosts: string[]): Warning[] {
  return hosts.flatMap((name) => {
    const v = ctx.host(name).vars;
    return v.certDir === v.kubernetesDir
      ? []
      : [{ level: 'block' as const, code: 'cert-dir-not-kubernetes-dir', host: name, message: `${name}: certDir is ${v.certDir} but kubernetesDir is ${v.kubernetesDir}: the kubeadm steps write under certDir, which is what the backup holds; set certDir: ${v.kubernetesDir} in the inventory` }];
  });
}

/**
 * Read several files of one host (keys, kubeconfigs holding keys) into memory only, in one exec: one `cat` per file, each
 * in its own section (src/ssh/sections.ts). Returns the reader of one of them: a file that could not be read throws
 * there, when it is asked for (as a read of its own would have), so a file never asked for never fails a step.
 */
export async function readSecrets(ctx: PrepareContext, host: string, paths: readonly string[]): Promise<(path: string) => Secret<string>> {
  const r = ctx.remote(host);
  if (!r) throw new Error(`${host} is not connected`);
  const unique = [...new Set(paths)];
  const res = unique.length ? await runSections(r, unique.map((p, i) => ({ name: `f${i}`, script: readScript(p) })), { timeoutMs: ctx.host(host).ssh.commandTimeout * 1000 }) : undefined;
  return (path) => {
    const i = unique.indexOf(path);
    if (i < 0) throw new Error(`readSecrets: ${host}:${path} was not read`);
    const part = res!.sections.get(`f${i}`);
    if (!part || part.exitCode !== 0) {
      const why = res!.stderr.split('\n').filter((l) => l.includes(path)).join('\n').trim() || undefined;
      throw new HostError(host, 'command', `${host}: \`${readScript(path)}\` ${part ? `exited with ${part.exitCode}` : 'did not run'}`, undefined, why);
    }
    return new Secret(part.stdout);
  };
}

/**
 * On resume: which of a renewal's files the stopped run already wrote (live sha256 = its planned sha256). All written: the
 * renewal is done (not made again); none: made anew; some: the fleet changed under the run, which blocks.
 */
export function resumeState(ctx: PrepareContext, host: string, paths: string[], live: (path: string) => string | undefined): 'done' | 'todo' | 'mixed' {
  if (!ctx.resume) return 'todo';
  const planned = new Map(
    ctx.resume.plan.steps
      .filter((s) => s.index === ctx.index)
      .flatMap((s) => s.actions)
      .filter((a): a is Extract<Action, { kind: 'stage' }> => a.kind === 'stage' && a.host === host)
      .map((a) => [a.path, a.sha256]),
  );
  const written = paths.map((p) => planned.get(p) !== undefined && planned.get(p) === live(p));
  return written.every(Boolean) ? 'done' : written.some(Boolean) ? 'mixed' : 'todo';
}

/** The plan half shared by renew-leaves and renew-kubeconfigs: per host, what is renewed, then the staging and the swap. */
export function planRenewals(ctx: PlanContext, hosts: string[], idle: string): StepPlanResult {
  const data = ctx.stepData as KubeadmStepData | undefined;
  if (!data) return { hosts, actions: [], notes: [idle] };
  const actions: Action[] = [];
  for (const host of hosts) {
    const mine = data.renewals.filter((r) => r.host === host);
    if (!mine.length) continue;
    for (const r of mine) actions.push({ kind: 'renew-cert', host, ...r.info });
    const files = mine.flatMap((r) => r.files);
    for (const f of files)
      actions.push({
        kind: 'stage',
        host,
        role: f.secret ? 'key' : 'cert',
        path: f.path,
        staged: staged(f.path, ctx.runId),
        sha256: f.sha256,
        size: f.size,
        mode: f.mode,
        uid: f.uid,
        gid: f.gid,
        ...(f.notAfter ? { notAfter: f.notAfter } : {}),
        secret: f.secret,
      });
    // Each pair key first, then its certificate, back to back (etcd and the apiserver's serving side re-read them).
    const order = mine.flatMap((r) => [...r.files].sort((a, b) => Number(b.secret) - Number(a.secret)));
    actions.push({ kind: 'swap', host, renames: order.map((f) => ({ from: staged(f.path, ctx.runId), to: f.path, role: f.secret ? 'key' : 'cert' })) });
  }
  const notes = [...data.notes];
  if (!data.renewals.length) notes.push(idle);
  return { hosts, actions, notes };
}

const staged = (path: string, runId: string) => {
  const i = path.lastIndexOf('/');
  return stagedName(path.slice(0, i), path.slice(i + 1), runId);
};

type StageAction = Extract<Action, { kind: 'stage' }>;
type SwapAction = Extract<Action, { kind: 'swap' }>;

/** The apply half: stage every new file of a host (sha256 checked there), then swap them in one command and check the live files. */
export function applyRenewals(step: { hosts: string[]; actions: Action[]; index: number }, ctx: ApplyContext): Phase[] {
  const data = ctx.stepData?.[step.index] as KubeadmStepData | undefined;
  const content = new Map<string, NewFile>();
  for (const r of data?.renewals ?? []) for (const f of r.files) content.set(`${r.host}\0${f.path}`, f);
  const stages = step.hosts
    .map((h) => ({ h, acts: step.actions.filter((a): a is StageAction => a.kind === 'stage' && a.host === h) }))
    .filter((x) => x.acts.length > 0)
    .map(({ h, acts }) => ({
      title: `${h}: stage ${acts.length} files and check them by sha256`,
      host: h,
      run: async (report: (m: string) => void) => {
        const files = acts.map((a) => {
          const f = content.get(`${h}\0${a.path}`);
          // The new files live in this process's memory only: a plan read back from the journal has no content.
          if (!f || f.sha256 !== a.sha256) throw new HostError(h, 'command', `${h}: no new content for ${a.path} in this process`, 'make the plan again with `certroll run` (or --resume): the new files are made in memory, never stored');
          return { path: a.staged, data: f.content instanceof Secret ? f.content.reveal() : f.content, mode: a.mode, uid: a.uid, gid: a.gid, sha256: a.sha256 };
        });
        // One exec (src/ssh/write-batch.ts): every file written, fsynced and checked by sha256 there before any is renamed to its staged name.
        try {
          await writeFilesAtomic(ctx.remote(h), files);
        } catch (err) {
          const bad = err instanceof HostError && acts.find((a) => err.shortMessage.includes(`${a.staged} written does not have`));
          if (bad) throw new HostError(h, 'transfer', `${h}: staged ${bad.staged} does not have the expected sha256 ${bad.sha256.slice(0, 16)}…`, 'the live files were not touched; run again (or resume) to re-upload');
          throw err;
        }
        failpoint('stage.after');
        report(`staged ${acts.length} files (sha256 verified)`);
      },
    }));
  const swaps = step.actions
    .filter((a): a is SwapAction => a.kind === 'swap')
    .map((a) => ({
      title: `${a.host}: swap ${a.renames.length} files in`,
      host: a.host,
      run: async (report: (m: string) => void) => {
        const want = new Map(step.actions.filter((x): x is StageAction => x.kind === 'stage' && x.host === a.host).map((x) => [x.path, x.sha256]));
        const tests = a.renames.map((x) => sh`[ -f ${x.from} ]`).join(' && ');
        const mvs = a.renames.map((x) => sh`mv -f -- ${x.from} ${x.to}`).join(' && ');
        const detail = a.renames.map((x) => `${x.to} sha256 ${want.get(x.to)}`).join(', ');
        const r = await change(ctx, a.host, 'swap', detail, () => ctx.remote(a.host).sh(`${tests} && ${mvs}`, { allowFailure: true }));
        if (r.exitCode !== 0)
          throw new HostError(a.host, 'command', `${a.host}: swapping in the new files failed: ${r.stderr.trim() || `exit ${r.exitCode}`}`, `check ${a.renames.map((x) => x.to).join(', ')} on ${a.host}; the backup is in place`);
        const live = await ctx.remote(a.host).sh(sh`sha256sum -- ${a.renames.map((x) => x.to)}`, { allowFailure: true });
        for (const x of a.renames) {
          const line = live.stdout.split('\n').find((l) => l.endsWith(` ${x.to}`));
          if (!line?.startsWith(want.get(x.to) ?? '-')) throw new HostError(a.host, 'command', `${a.host}: ${x.to} does not hold the new file after the swap`, 'inspect it; the backup is in place');
        }
        report(`${a.renames.length} files replaced and checked by sha256`);
      },
    }));
  return [
    { title: 'stage beside each file', items: stages, concurrent: true },
    { title: 'swap in (each key and its certificate back to back), then check', items: swaps, concurrent: true },
  ];
}
