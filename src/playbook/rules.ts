// The playbook's safety rules checked at load time, one named function each: order of steps (lock, backup, material,
// distribution, restart), managed file names, and lifetimes. Each reports through `fail` with the YAML path of the culprit.
import type { YamlPath } from '../yaml/located.js';
import type { ManagedFiles, StepSpec, StepType } from './types.js';

export interface RuleInput {
  steps: ReadonlyArray<StepSpec & { title: string }>;
  files: ManagedFiles;
}
/** Records one problem at a YAML path of the playbook. */
export type Fail = (path: YamlPath, message: string) => void;
export type PlaybookRule = (pb: RuleInput, fail: Fail) => void;

/** Steps that change something on a host (staging files in the cert dir counts). preflight only takes the lock. */
export const WRITING_STEPS: ReadonlySet<StepType> = new Set<StepType>(['renew-cas', 'renew-leaves', 'renew-kubeconfigs', 
  'renew-ca',
  'issue-cert',
  'distribute',
  'rolling-restart',
  'restart-flannel',
  'manager-templates',
  'manager-db',
  'refresh-kube-config',
]);

const indexesOf = (pb: RuleInput, type: StepType) => pb.steps.flatMap((s, i) => (s.type === type ? [i] : []));
const stepPath = (i: number): YamlPath => ['steps', i, 'type'];

/** A run takes the lock before anything else: exactly one `preflight`, and it is the first step. */
export const preflightFirst: PlaybookRule = (pb, fail) => {
  const at = indexesOf(pb, 'preflight');
  if (at.length === 0) {
    fail(['steps'], 'no preflight step: a run must take the lock and check every host before anything else; add "- type: preflight" as the first step');
    return;
  }
  if (at[0] !== 0)
    fail(stepPath(at[0]!), `preflight is step ${at[0]! + 1}: it must be the first step (it takes the run lock before anything else; "${pb.steps[0]!.title}" would run without it)`);
  for (const i of at.slice(1)) fail(stepPath(i), `a second preflight step (the first is step ${at[0]! + 1}): keep only one, first`);
};

/** Invariant 1: nothing on a host changes before a backup step; the first writing step must come after one. */
export const backupBeforeWrites: PlaybookRule = (pb, fail) => {
  const firstBackup = indexesOf(pb, 'backup')[0];
  const firstWrite = pb.steps.findIndex((s) => WRITING_STEPS.has(s.type));
  if (firstWrite < 0) return;
  if (firstBackup === undefined)
    fail(stepPath(firstWrite), `${pb.steps[firstWrite]!.type} changes hosts but the playbook has no backup step; add "- type: backup" before it (nothing may change before every backup exists)`);
  else if (firstBackup > firstWrite)
    fail(stepPath(firstWrite), `${pb.steps[firstWrite]!.type} (step ${firstWrite + 1}) changes hosts before the backup (step ${firstBackup + 1}); move the backup step before it`);
};

/** The new CA and certificate are made before they are distributed; each is made once (the first would silently win). */
export const materialBeforeDistribute: PlaybookRule = (pb, fail) => {
  const firstDistribute = indexesOf(pb, 'distribute')[0];
  for (const type of ['renew-ca', 'issue-cert'] as const) {
    const at = indexesOf(pb, type);
    for (const i of at.slice(1)) fail(stepPath(i), `a second ${type} step (the first is step ${at[0]! + 1}): the certificates are made once per run; keep one`);
    if (firstDistribute !== undefined && at[0] !== undefined && at[0] > firstDistribute)
      fail(stepPath(at[0]), `${type} (step ${at[0] + 1}) comes after distribute (step ${firstDistribute + 1}); it must come before, so what is distributed is what it made`);
  }
};

/**
 * kubeadm: the CAs are renewed once per run, before the leaves and kubeconfigs they sign (their issuer checks then run
 * against the CA that will be on disk; the key is the same either way).
 */
export const casBeforeLeaves: PlaybookRule = (pb, fail) => {
  const at = indexesOf(pb, 'renew-cas');
  for (const i of at.slice(1)) fail(stepPath(i), `a second renew-cas step (the first is step ${at[0]! + 1}): each CA is renewed once per run; keep one`);
  if (at[0] === undefined) return;
  for (const type of ['renew-leaves', 'renew-kubeconfigs'] as const) {
    const first = indexesOf(pb, type)[0];
    if (first !== undefined && first < at[0])
      fail(stepPath(at[0]), `renew-cas (step ${at[0] + 1}) comes after ${type} (step ${first + 1}); it must come before, so the certificates are renewed under the CA that will be on disk`);
  }
};

/**
 * A node is restarted only once the new files are in place: a TOS rolling-restart comes after a distribute; one with pods
 * (kubeadm) after a step that writes certificates. `when: always` restarts regardless (a renewal made by hand).
 */
export const distributeBeforeRestart: PlaybookRule = (pb, fail) => {
  const firstDistribute = indexesOf(pb, 'distribute')[0];
  for (const i of indexesOf(pb, 'rolling-restart')) {
    const s = pb.steps[i] as Extract<StepSpec, { type: 'rolling-restart' }>;
    if (s.when === 'always') continue;
    if (s.pods) {
      if (pb.steps.slice(0, i).some((x) => WRITING_STEPS.has(x.type) && x.type !== 'rolling-restart' && x.type !== 'restart-flannel')) continue;
      fail(stepPath(i), `rolling-restart (step ${i + 1}) restarts the static pods but no earlier step writes new certificates, so it would never run; put the renewing steps before it, or add "when: always" to restart anyway`);
    } else if (firstDistribute === undefined || firstDistribute > i)
      fail(stepPath(i), `rolling-restart (step ${i + 1}) comes before any distribute step: restarting before the new files are in place restarts etcd with the old ones; put a distribute step before it`);
  }
};

const groupOf = (target: string) => /^first\((.+)\)$/.exec(target)?.[1] ?? target;

/** A node is restarted once per run: no group (nor `all`) is the target of two rolling-restart steps. */
export const oneRestartPerGroup: PlaybookRule = (pb, fail) => {
  const seen = new Map<string, number>();
  for (const i of indexesOf(pb, 'rolling-restart')) {
    const s = pb.steps[i] as Extract<StepSpec, { type: 'rolling-restart' }>;
    for (const t of s.targets) {
      const g = groupOf(t);
      const clash = g === 'all' ? [...seen.values()].find((j) => j !== i) : (seen.get(g) ?? seen.get('all'));
      if (clash !== undefined && clash !== i)
        fail(['steps', i, 'targets'], `"${t}" is already restarted by step ${clash + 1}: one rolling-restart per group (a node restarted twice in a run)`);
      seen.set(g, i);
    }
  }
};

/** The managed files are four different names: the CA key is never written over by the CA, the certificate or the key. */
export const distinctFiles: PlaybookRule = (pb, fail) => {
  const roles = ['ca', 'caKey', 'cert', 'key'] as const;
  const first = new Map<string, string>();
  for (const role of roles) {
    const name = pb.files[role];
    const other = first.get(name);
    if (other !== undefined)
      fail(['files', role], `files.${role} is "${name}", the same file as files.${other}${other === 'caKey' || role === 'caKey' ? ': the CA key would be written over' : ''}; the four files must have different names`);
    else first.set(name, role);
  }
};

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const GO_DURATION = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h)(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))*$/;

/** A Go duration (time.ParseDuration, as cfssl reads "expiry": `87600h`, `1h30m`, `2.5h`) in milliseconds; undefined if not one. */
export function parseGoDuration(text: string): number | undefined {
  if (!GO_DURATION.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/([0-9]*\.?[0-9]*)(ns|us|µs|μs|ms|s|m|h)/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Number.isFinite(ms) ? ms : undefined;
}

/** Invariant 12 for the Manager: `manager-templates.expiry` is not shorter than the `expiryFrom` it replaces. */
export const expiryNotShorter: PlaybookRule = (pb, fail) => {
  pb.steps.forEach((s, i) => {
    if (s.type !== 'manager-templates') return;
    const from = parseGoDuration(s.expiryFrom);
    const to = parseGoDuration(s.expiry);
    if (from === undefined || to === undefined) return; // already refused by the field's own rule
    if (to < from) fail(['steps', i, 'expiry'], `expiry ${s.expiry} is shorter than expiryFrom ${s.expiryFrom}: a renewal never shortens a lifetime`);
  });
};

/** Every rule, in the order their messages read best. */
export const playbookRules: Readonly<Record<string, PlaybookRule>> = {
  preflightFirst,
  backupBeforeWrites,
  materialBeforeDistribute,
  casBeforeLeaves,
  distributeBeforeRestart,
  oneRestartPerGroup,
  distinctFiles,
  expiryNotShorter,
};
