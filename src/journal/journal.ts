// The run journal on the control machine: .certroll/runs/<run-id>/ with the plan, the facts before the run and one JSON line per event. Never a private key.
import { mkdir, open, readdir, readFile, rename, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export type RunState = 'planned' | 'running' | 'succeeded' | 'completed-with-errors' | 'failed' | 'interrupted';

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
}

export interface JournalEvent {
  at: string;
  /** Playbook step index, on step outcome records. */
  index?: number;
  /** step-start, step-end, item-start, item-end, item-failed, message, run-end… */
  event: string;
  step?: string;
  host?: string;
  message?: string;
}

export function journalRoot(): string {
  return process.env.CERTROLL_HOME ? join(process.env.CERTROLL_HOME, 'runs') : join(process.cwd(), '.certroll', 'runs');
}

/** A run id: sortable by time, unique, safe in paths and shells: 20261123T094300Z-a1b2c3. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/** Write a file atomically: temp file in the same directory, then rename. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, data, { mode: 0o600 });
  await rename(tmp, path);
}

/** Refuses values that look like private keys, so a bug can never journal one. */
function assertNoKey(text: string): void {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw new Error('refusing to write a private key into the journal');
}

export class Journal {
  readonly dir: string;
  constructor(readonly runId: string, root = journalRoot()) {
    this.dir = join(root, runId);
  }
  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }
  async put(name: string, value: unknown): Promise<void> {
    const text = JSON.stringify(value, null, 2) + '\n';
    assertNoKey(text);
    await writeFileAtomic(join(this.dir, name), text);
  }
  async event(e: Omit<JournalEvent, 'at'>): Promise<void> {
    const line = JSON.stringify({ at: new Date().toISOString(), ...e }) + '\n';
    assertNoKey(line);
    await appendFile(join(this.dir, 'events.jsonl'), line, { mode: 0o600 });
  }
  /** A record that must survive a crash (write-ahead intent, step outcome): appended and flushed to disk before returning. */
  async intent(e: Omit<JournalEvent, 'at'> & Record<string, unknown>): Promise<void> {
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
  async summary(s: RunSummary): Promise<void> {
    await this.put('run.json', s);
  }
}

export async function listRuns(root = journalRoot()): Promise<RunSummary[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const out: RunSummary[] = [];
  for (const n of names.sort()) {
    try {
      out.push(JSON.parse(await readFile(join(root, n, 'run.json'), 'utf8')) as RunSummary);
    } catch {
      out.push({ runId: n, state: 'failed', inventory: '?', playbook: '?', startedAt: '?', error: 'run.json unreadable' });
    }
  }
  return out;
}

export interface StoredRun {
  dir: string;
  summary: RunSummary | null;
  plan: unknown;
  facts: unknown;
  events: JournalEvent[];
}

/** Read a run back from the journal; null when it is not there. Tolerates a torn last line in events.jsonl. */
export async function readRun(runId: string, root = journalRoot()): Promise<StoredRun | null> {
  const dir = join(root, runId);
  const json = async (name: string) => {
    try {
      return JSON.parse(await readFile(join(dir, name), 'utf8')) as unknown;
    } catch {
      return null;
    }
  };
  const plan = await json('plan.json');
  if (!plan) return null;
  let events: JournalEvent[] = [];
  try {
    events = (await readFile(join(dir, 'events.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as JournalEvent];
        } catch {
          return [];
        }
      });
  } catch {
    /* no events yet */
  }
  return { dir, summary: (await json('run.json')) as RunSummary | null, plan, facts: await json('facts.json'), events };
}
