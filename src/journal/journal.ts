// The run journal on the control machine: $XDG_STATE_HOME/certroll/runs/<run-id>/ (CERTROLL_HOME overrides) with the plan, the
// facts before the run and one fsynced JSON line per event. Never a private key. Everything read back is checked for shape.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { InputError, UsageError } from '../errors.js';
import type { FileRecord } from '../file-record.js';
import { backupDirOf } from '../host-paths.js';

/**
 * Journal states; a journal written by a newer certroll may hold others (any lower-case word is read back). `damaged` is
 * never written: listRuns() gives it to a run whose journal cannot be read. `completed-with-errors`: past the point of no
 * return, some steps failed or did not run (`undone`).
 */
export type RunState = 'planned' | 'running' | 'succeeded' | 'completed-with-errors' | 'failed' | 'interrupted' | 'damaged';

export interface RunSummary {
  runId: string;
  state: RunState;
  inventory: string;
  playbook: string;
  startedAt: string;
  endedAt?: string;
  /** Where it stopped, when it did not succeed. */
  stoppedAt?: string;
  error?: string;
  /** Steps that failed or did not run ("6. restart-flannel"), when the run did not complete. */
  undone?: string[];
  /** Steps the operator recorded as done by hand (run --resume --skip). */
  skippedByOperator?: string[];
  /** `rollback` for a rollback's own journal. */
  kind?: string;
  rollbackOf?: string;
}

/** A run as `listRuns()` finds it: where its journal is, and what is wrong with it when it cannot be read. */
export interface ListedRun extends RunSummary {
  dir: string;
  /** Found in an old `./.certroll/runs` (before the journal moved to the per-user state directory). */
  legacy?: true;
  /** Why the run's journal cannot be read, when state is `damaged`. */
  damaged?: string;
}

export interface JournalEvent {
  at: string;
  /** Playbook step index, on step outcome records. */
  index?: number;
  /** step-start, step-end, item-start, item-end, item-failed, message, run-end, intent… */
  event: string;
  step?: string;
  host?: string;
  message?: string;
  /** Structured detail (a write-ahead intent's action, a result). */
  detail?: Record<string, unknown>;
}

/** Where the journal lives: `$CERTROLL_HOME/runs`, else `$XDG_STATE_HOME/certroll/runs`, else `~/.local/state/certroll/runs`. */
export function journalRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CERTROLL_HOME) return join(env.CERTROLL_HOME, 'runs');
  // The XDG spec: a relative XDG_STATE_HOME is invalid and is ignored.
  const xdg = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(env.HOME || homedir(), '.local', 'state');
  return join(xdg, 'certroll', 'runs');
}

/** Where journals were written before they moved to the state directory: `./.certroll/runs` (not consulted with CERTROLL_HOME). */
export function legacyJournalRoot(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | null {
  if (env.CERTROLL_HOME) return null;
  const legacy = join(cwd, '.certroll', 'runs');
  return legacy === journalRoot(env) ? null : legacy;
}

/**
 * Refuse a journal home that cannot work, before any host is contacted: CERTROLL_HOME (or the state directory, or the nearest
 * existing parent) that is not a directory, or that this user cannot read (and, with `write`, write).
 */
export function checkJournalHome(mode: 'read' | 'write', env: NodeJS.ProcessEnv = process.env): void {
  const root = journalRoot(env);
  const what = env.CERTROLL_HOME ? `CERTROLL_HOME=${showValue(env.CERTROLL_HOME)}` : `the journal directory ${root}`;
  let p = root;
  for (;;) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Walk up to the nearest part that exists (ENOTDIR: a file is in the way, found on the way up).
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(p) !== p) {
        p = dirname(p);
        continue;
      }
      throw new UsageError(`${what}: cannot read ${showValue(p)} (${code ?? (e as Error).message})`);
    }
    if (!st.isDirectory()) throw new UsageError(`${what}: ${showValue(p)} is a file, not a directory; point CERTROLL_HOME at a directory`);
    const need = p === root || mode === 'write' ? constants.R_OK | constants.X_OK | (mode === 'write' ? constants.W_OK : 0) : constants.X_OK;
    try {
      accessSync(p, need);
    } catch {
      throw new UsageError(`${what}: ${showValue(p)} is not ${mode === 'write' ? 'writable' : 'readable'} by this user; fix its permissions or point CERTROLL_HOME elsewhere`);
    }
    return;
  }
}

/** Run ids are made by newRunId(); anything safe as one path component is accepted (no `/`, no leading `.`, no control characters). */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Refuse a run id that is not one (exit 3), naming the flag it came from; the value is shown with control characters escaped. */
export function checkRunId(runId: string, flag: string): string {
  if (!RUN_ID_PATTERN.test(runId))
    throw new UsageError(`${flag}: ${showValue(runId)} is not a run id (like 20261123T094300Z-a1b2c3: letters, digits, ".", "_", "-"; no "/", no leading "."); certroll runs lists them`);
  return runId;
}

/** A value read from outside (a file name, a journal field) made safe to print: control characters escaped, length capped, quoted. */
export function showValue(v: string, max = 120): string {
  const cut = v.length > max ? `${v.slice(0, max)}…` : v;
  // JSON escapes C0 controls and quotes; C1 controls and line/paragraph separators are escaped here too.
  return JSON.stringify(cut).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A run id: sortable by time, unique, safe in paths and shells: 20261123T094300Z-a1b2c3. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/** Flush a directory's entries (a rename in it) to disk; some filesystems refuse, which is not an error. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => null);
  await fh?.sync().catch(() => undefined);
  await fh?.close();
}

/** Write a file atomically and durably: temp file in the same directory, fsync, rename, fsync the directory. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/** Refuses values that look like private keys, so a bug can never journal one. */
function assertNoKey(text: string): void {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw new Error('refusing to write a private key into the journal');
}

/** The directory of a run's journal: the state directory's, else an old `./.certroll/runs` one that exists. */
export function locateRun(runId: string, env: NodeJS.ProcessEnv = process.env): { dir: string; legacy: boolean } {
  const dir = join(journalRoot(env), runId);
  const legacyRoot = legacyJournalRoot(env);
  if (!existsSync(dir) && legacyRoot && existsSync(join(legacyRoot, runId))) return { dir: join(legacyRoot, runId), legacy: true };
  return { dir, legacy: false };
}

export class Journal {
  readonly dir: string;
  /** The run's journal is in an old `./.certroll/runs` (a resumed run goes on writing there). */
  readonly legacy: boolean;
  constructor(readonly runId: string, root?: string) {
    checkRunId(runId, 'run id');
    if (root !== undefined) {
      this.dir = join(root, runId);
      this.legacy = false;
    } else ({ dir: this.dir, legacy: this.legacy } = locateRun(runId));
  }
  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }
  async put(name: string, value: unknown): Promise<void> {
    const text = JSON.stringify(value, null, 2) + '\n';
    assertNoKey(text);
    await writeFileAtomic(join(this.dir, name), text);
  }
  /** Append one event line and flush it to disk (open with O_APPEND, write, fdatasync, close) before returning. */
  async event(e: Omit<JournalEvent, 'at'>): Promise<void> {
    const line = JSON.stringify({ at: new Date().toISOString(), ...e }) + '\n';
    assertNoKey(line);
    const fh = await open(join(this.dir, 'events.jsonl'), 'a', 0o600);
    try {
      await fh.write(line);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }
  /** A write-ahead intent: the same durable append as event(), to be awaited before the remote change it announces. */
  async intent(e: Omit<JournalEvent, 'at' | 'event'> & { event?: string; [more: string]: unknown }): Promise<void> {
    await this.event({ event: 'intent', ...e });
  }
  async summary(s: RunSummary): Promise<void> {
    await this.put('run.json', s);
  }
}

// ---- reading back: every file checked for shape; a damaged journal is bad input (exit 3) naming the file and the fault ----

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What is wrong with a value, by dotted path; empty when its shape is right. */
type Check = (v: unknown, path: string) => string[];
const string: Check = (v, p) => (typeof v === 'string' ? [] : [`${p}: expected a string, got ${kindOf(v)}`]);
const optString: Check = (v, p) => (v === undefined ? [] : string(v, p));
const number: Check = (v, p) => (typeof v === 'number' && Number.isFinite(v) ? [] : [`${p}: expected a number, got ${kindOf(v)}`]);
const array = (item?: Check): Check => (v, p) => (!Array.isArray(v) ? [`${p}: expected a list, got ${kindOf(v)}`] : item ? v.flatMap((x, i) => item(x, `${p}[${i}]`)).slice(0, 5) : []);
const object = (fields: Record<string, Check>): Check => (v, p) => (!isObj(v) ? [`${p ? `${p}: ` : ''}expected an object, got ${kindOf(v)}`] : Object.entries(fields).flatMap(([k, c]) => c(v[k], p ? `${p}.${k}` : k)));
const record = (item: Check): Check => (v, p) => (!isObj(v) ? [`${p}: expected an object, got ${kindOf(v)}`] : Object.entries(v).flatMap(([k, x]) => item(x, `${p}.${k}`)).slice(0, 5));
const nullable = (c: Check): Check => (v, p) => (v === null ? [] : c(v, p));
function kindOf(v: unknown): string {
  return v === undefined ? 'nothing' : v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : typeof v === 'string' ? `string ${showValue(v, 40)}` : `${typeof v} ${String(v)}`;
}
const runIdField = (expected: string): Check => (v, p) => (typeof v !== 'string' ? string(v, p) : v !== expected ? [`${p}: names run ${showValue(v, 60)}, not ${expected}`] : []);
const stateField: Check = (v, p) => (typeof v === 'string' && /^[a-z][a-z-]{0,40}$/.test(v) ? [] : [`${p}: expected a run state, got ${kindOf(v)}`]);

/** A recorded file: every field of FileRecord is checked (adding one there without a check here does not compile). */
const fileFact = object({ path: string, sha256: string, size: number, mode: number, uid: number, gid: number } satisfies Record<keyof FileRecord, Check>);
const summaryShape = (runId: string) => object({ runId: runIdField(runId), state: stateField, inventory: string, playbook: string, startedAt: string, endedAt: optString, stoppedAt: optString, error: optString });
const planShape = (runId: string) =>
  object({
    runId: runIdField(runId),
    createdAt: string,
    inventory: string,
    playbook: string,
    status: string,
    reasons: array(),
    warnings: array(),
    material: nullable(object({ newCa: object({ sha256: string }), newLeaf: object({ sha256: string }), newKeySha256: string })),
    restartOrder: array(string),
    steps: array(object({ actions: array(object({ kind: string })) })),
  });
const factsShape = object({
  gatheredAt: string,
  hosts: record(object({ host: string, certDir: object({ path: string, files: array(fileFact) }), manifests: object({ inPlace: array(string), parked: array(string) }) })),
  unreachable: array(),
});

export interface StoredRun {
  dir: string;
  /** Found in an old `./.certroll/runs`. */
  legacy: boolean;
  /** null when run.json was not written yet (the run stopped between writing its plan and starting). */
  summary: RunSummary | null;
  plan: unknown;
  facts: unknown;
  events: JournalEvent[];
}

function damaged(file: string, problems: string[], runId: string): InputError {
  const e = new InputError(
    // A field's problem starts with its path; a whole-file problem gets the file's name as its subject.
    problems.map((message) => ({ file, path: /^[\w.[\]]+: /.test(message) ? '' : basename(file), message })),
    `the journal of run ${runId} is damaged; nothing was contacted:`,
  );
  e.message += `\n  → \`certroll status -i INVENTORY\` shows what the hosts hold; \`certroll rollback -i INVENTORY --from-backup ${backupDirOf('<certDir>', runId)}\` restores them without the journal`;
  return e;
}

/** Read a JSON file of the journal: null when absent; InputError when unreadable, not JSON, or of the wrong shape. */
async function readJson(file: string, shape: Check, runId: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw damaged(file, [code === 'EISDIR' ? 'is a directory, not a file' : `cannot be read (${code ?? (e as Error).message})`], runId);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw damaged(file, [text.trim() === '' ? 'is empty' : `is not valid JSON (truncated?): ${(e as Error).message}`], runId);
  }
  const problems = shape(v, '');
  if (problems.length) throw damaged(file, problems, runId);
  return v;
}

/** Parse events.jsonl: a torn last line (a crash mid-append) is dropped; a bad line before it means the file is damaged. */
export function parseEvents(text: string, file: string, runId: string): JournalEvent[] {
  const lines = text.split('\n');
  const out: JournalEvent[] = [];
  lines.forEach((l, i) => {
    if (l === '') return;
    const last = lines.slice(i + 1).every((x) => x === '');
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch {
      if (last) return;
      throw damaged(file, [`line ${i + 1} is not valid JSON`], runId);
    }
    if (!isObj(v) || typeof v.event !== 'string' || typeof v.at !== 'string') throw damaged(file, [`line ${i + 1} is not an event (expected an object with "at" and "event")`], runId);
    out.push(v as unknown as JournalEvent);
  });
  return out;
}

/**
 * Read a run back from the journal (the state directory, else an old `./.certroll/runs`); null when it is in neither.
 * The run id must be one (UsageError naming `flag`); plan.json and facts.json must be there and of the right shape, run.json
 * of the right shape when there (InputError naming the file otherwise). Never returns a plan from a damaged journal.
 */
export async function readRun(runId: string, root?: string, flag = '--resume'): Promise<StoredRun | null> {
  checkRunId(runId, flag);
  if (root === undefined) checkJournalHome('read');
  const { dir, legacy } = root !== undefined ? { dir: join(root, runId), legacy: false } : locateRun(runId);
  try {
    if (!(await stat(dir)).isDirectory()) throw damaged(dir, ['is not a directory'], runId);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const planFile = join(dir, 'plan.json');
  const plan = await readJson(planFile, planShape(runId), runId);
  if (plan === null) {
    if (existsSync(join(dir, 'rollback-plan.json'))) throw new UsageError(`${flag}: ${runId} is a rollback, not a run (its journal ${dir} has rollback-plan.json); certroll runs lists runs`);
    throw damaged(planFile, ['is missing (the plan of the run)'], runId);
  }
  const factsFile = join(dir, 'facts.json');
  const facts = await readJson(factsFile, factsShape, runId);
  if (facts === null) throw damaged(factsFile, ['is missing (the facts gathered before the run)'], runId);
  const summary = (await readJson(join(dir, 'run.json'), summaryShape(runId), runId)) as RunSummary | null;
  let events: JournalEvent[] = [];
  const eventsFile = join(dir, 'events.jsonl');
  try {
    events = parseEvents(await readFile(eventsFile, 'utf8'), eventsFile, runId);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (e instanceof InputError) throw e;
      throw damaged(eventsFile, [`cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`], runId);
    }
  }
  return { dir, legacy, summary, plan, facts, events };
}

/** The runs in one journal root, oldest first; a directory that is not a readable run is listed as damaged, with the reason. */
async function listRoot(root: string, legacy: boolean): Promise<ListedRun[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new UsageError(`the journal directory ${showValue(root)} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const out: ListedRun[] = [];
  for (const n of names.sort()) {
    const dir = join(root, n);
    const base = { runId: n, inventory: '', playbook: '', startedAt: '', dir, ...(legacy ? { legacy: true as const } : {}) };
    if (!RUN_ID_PATTERN.test(n)) {
      out.push({ ...base, runId: showValue(n).slice(1, -1), state: 'damaged', damaged: 'the directory name is not a run id' });
      continue;
    }
    try {
      const s = (await readJson(join(dir, 'run.json'), summaryShape(n), n)) as RunSummary | null;
      if (s) out.push({ ...base, ...s, dir, state: s.state });
      else if (existsSync(join(dir, 'plan.json'))) out.push({ ...base, state: 'planned' });
      else out.push({ ...base, state: 'damaged', damaged: 'no run.json and no plan.json' });
    } catch (e) {
      out.push({ ...base, state: 'damaged', damaged: e instanceof InputError ? e.issues.map((i) => `${i.file.slice(dir.length + 1)} ${i.message}`).join('; ') : (e as Error).message });
    }
  }
  return out;
}

/** Every run in the journal, oldest first: the state directory's, then those only found in an old `./.certroll/runs`. */
export async function listRuns(root?: string): Promise<ListedRun[]> {
  if (root !== undefined) return listRoot(root, false);
  checkJournalHome('read');
  const runs = await listRoot(journalRoot(), false);
  const legacyRoot = legacyJournalRoot();
  if (legacyRoot) {
    const seen = new Set(runs.map((r) => r.runId));
    runs.push(...(await listRoot(legacyRoot, true).catch(() => [])).filter((r) => !seen.has(r.runId)));
  }
  return runs;
}
