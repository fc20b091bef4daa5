// The journal: where it lives, run ids refused on every path, damaged files named (exit 3, never a plan from them), durable events.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { InputError, UsageError } from '../../../src/errors.js';
import { Journal, checkJournalHome, checkRunId, journalRoot, legacyJournalRoot, listRuns, newRunId, parseEvents, readRun, showValue } from '../../../src/journal/journal.js';

const exec = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), 'certroll-journal-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ID = '20261202T093000Z-abc123';
const plan = (runId = ID) => ({ runId, createdAt: '2026-12-02T09:30:00Z', inventory: '/x/inv.yaml', playbook: '/x/pb.yaml', status: 'ready', reasons: [], warnings: [], material: null, restartOrder: ['a'], steps: [{ actions: [{ kind: 'backup' }] }] });
const facts = () => ({ gatheredAt: 'x', hosts: { a: { host: 'a', certDir: { path: '/srv/k', files: [{ path: 'ca.pem', sha256: 'ab', size: 1, mode: 420, uid: 0, gid: 0 }] }, manifests: { inPlace: [], parked: [] } } }, unreachable: [], etcd: null });
const summary = (runId = ID) => ({ runId, state: 'interrupted', inventory: '/x/inv.yaml', playbook: '/x/pb.yaml', startedAt: 'x' });

function writeRun(root: string, runId: string, files: Record<string, unknown>): string {
  const dir = join(root, runId);
  mkdirSync(dir, { recursive: true });
  for (const [name, v] of Object.entries(files)) writeFileSync(join(dir, name), typeof v === 'string' ? v : JSON.stringify(v));
  return dir;
}

describe('where the journal lives', () => {
  it('is $CERTROLL_HOME/runs, else $XDG_STATE_HOME/certroll/runs, else ~/.local/state/certroll/runs', () => {
    expect(journalRoot({ CERTROLL_HOME: '/h', XDG_STATE_HOME: '/s', HOME: '/home/u' })).toBe('/h/runs');
    expect(journalRoot({ XDG_STATE_HOME: '/s', HOME: '/home/u' })).toBe('/s/certroll/runs');
    expect(journalRoot({ HOME: '/home/u' })).toBe('/home/u/.local/state/certroll/runs');
    // The XDG spec: a relative path is invalid and ignored.
    expect(journalRoot({ XDG_STATE_HOME: 'rel/state', HOME: '/home/u' })).toBe('/home/u/.local/state/certroll/runs');
  });

  it('still looks in an old ./.certroll/runs, except when CERTROLL_HOME is set', () => {
    expect(legacyJournalRoot({ HOME: '/home/u' }, '/work/ops')).toBe('/work/ops/.certroll/runs');
    expect(legacyJournalRoot({ CERTROLL_HOME: '/h' }, '/work/ops')).toBeNull();
  });

  it('names a CERTROLL_HOME that is a file, or that cannot be written', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    expect(() => checkJournalHome('read', { CERTROLL_HOME: file })).toThrow(UsageError);
    expect(() => checkJournalHome('read', { CERTROLL_HOME: file })).toThrow(/CERTROLL_HOME=".*a-file": ".*a-file" is a file, not a directory/);
    const ro = join(tmp, 'ro');
    mkdirSync(join(ro, 'runs'), { recursive: true });
    chmodSync(join(ro, 'runs'), 0o500);
    if (process.getuid?.() !== 0) expect(() => checkJournalHome('write', { CERTROLL_HOME: ro })).toThrow(/not writable/);
    chmodSync(join(ro, 'runs'), 0o700);
    // A home that does not exist yet is fine when its nearest existing parent is a writable directory.
    expect(() => checkJournalHome('write', { CERTROLL_HOME: join(tmp, 'new', 'deeper') })).not.toThrow();
  });
});

describe('run ids', () => {
  it.each(['../../x', '/etc/passwd', '.hidden', 'a/b', '', 'ab\u001b[2Jc', 'x\ny', 'x'.repeat(200), 'ü'])('refuses %j, naming the flag', (bad) => {
    expect(() => checkRunId(bad, '--resume')).toThrow(UsageError);
    expect(() => checkRunId(bad, '--resume')).toThrow(/^--resume: /);
  });
  it('shows a refused value with its control characters escaped', () => {
    let msg = '';
    try {
      checkRunId('ab\u001b[2J\u0085c', '--run');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('"ab\\u001b[2J\\u0085c"');
    expect(msg).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });
  it('accepts what newRunId makes', () => {
    expect(checkRunId(newRunId(), '--run')).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
  });
  it('is checked by readRun and by the Journal before any path is built', async () => {
    await expect(readRun('../../etc', join(tmp, 'none'), '--resume')).rejects.toThrow(/^--resume: "..\/..\/etc" is not a run id/);
    expect(() => new Journal('../x', tmp)).toThrow(UsageError);
  });
  it('escapes C1 controls and line separators that JSON leaves raw', () => {
    expect(showValue('a\u009bb\u2028')).toBe('"a\\u009bb\\u2028"');
  });
});

describe('reading a run back', () => {
  const root = join(tmp, 'read');

  it('is null when the run is not there', async () => {
    expect(await readRun(ID, root)).toBeNull();
  });

  it('reads a whole run, dropping a torn last event line (a crash mid-append)', async () => {
    writeRun(root, ID, { 'plan.json': plan(), 'facts.json': facts(), 'run.json': summary(), 'events.jsonl': '{"at":"1","event":"step-start"}\n{"at":"2","event":"node-rest' });
    const r = await readRun(ID, root);
    expect(r?.summary?.state).toBe('interrupted');
    expect(r?.events.map((e) => e.event)).toEqual(['step-start']);
  });

  const P = '@@id';
  const damagedCases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['plan.json truncated', { 'plan.json': JSON.stringify(plan(P)).slice(0, 40), 'facts.json': facts() }, /plan\.json.*is not valid JSON \(truncated\?\)/s],
    ['plan.json empty', { 'plan.json': '', 'facts.json': facts() }, /plan\.json.*is empty/s],
    ['plan.json of the wrong shape', { 'plan.json': { runId: ID, steps: 'many' }, 'facts.json': facts() }, /steps: expected a list, got string "many".*plan\.json/s],
    ['plan.json a list', { 'plan.json': [1], 'facts.json': facts() }, /plan\.json: expected an object, got a list/],
    ['plan.json of another run', { 'plan.json': plan('20250101T000000Z-ffffff'), 'facts.json': facts() }, /runId: names run "20250101T000000Z-ffffff", not 20261202T093000Z-abc123/],
    ['plan.json missing', { 'facts.json': facts() }, /plan\.json.*is missing/s],
    ['facts.json missing', { 'plan.json': plan(P) }, /facts\.json.*is missing/s],
    ['facts.json of the wrong shape', { 'plan.json': plan(P), 'facts.json': { ...facts(), hosts: { a: { host: 'a', certDir: { path: '/k', files: [{ path: 1 }] } } } } }, /hosts\.a\.certDir\.files\[0\]\.path: expected a string, got number 1/],
    ['run.json of the wrong shape', { 'plan.json': plan(P), 'facts.json': facts(), 'run.json': { ...summary(P), state: 7 } }, /state: expected a run state, got number 7.*run\.json/s],
    ['an event line in the middle that is not JSON', { 'plan.json': plan(P), 'facts.json': facts(), 'events.jsonl': 'garbage\n{"at":"1","event":"x"}\n' }, /events\.jsonl.*line 1 is not valid JSON/s],
    ['an event that is not an event', { 'plan.json': plan(P), 'facts.json': facts(), 'events.jsonl': '{"at":"1"}\n' }, /line 1 is not an event/],
  ];
  it.each(damagedCases)('refuses a journal with %s: InputError naming the file, never a plan', async (_name, files, why) => {
    const id = newRunId();
    writeRun(root, id, JSON.parse(JSON.stringify(files).replaceAll(P, id)) as Record<string, unknown>);
    const err = await readRun(id, root).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    const text = (err as InputError).message.replaceAll(id, ID);
    expect(text).toMatch(why);
    expect(text).toContain(join(root, ID));
  });

  it('says that a rollback id is a rollback, not a run', async () => {
    const id = newRunId();
    writeRun(root, id, { 'rollback-plan.json': {}, 'run.json': { ...summary(id), kind: 'rollback' } });
    await expect(readRun(id, root, '--resume')).rejects.toThrow(/^--resume: .* is a rollback, not a run/);
  });
});

describe('listing runs', () => {
  const home = join(tmp, 'list');
  const cwd = process.cwd();
  afterEach(() => process.chdir(cwd));

  it('lists damaged runs and odd directory names as damaged, with the reason, and finds runs in an old ./.certroll', async () => {
    const env = { ...process.env };
    const root = join(home, 'state', 'certroll', 'runs');
    writeRun(root, ID, { 'plan.json': plan(), 'facts.json': facts(), 'run.json': summary() });
    writeRun(root, '20261202T100000Z-000001', { 'run.json': '{"runId":' });
    mkdirSync(join(root, 'bad\u001bname'), { recursive: true });
    const legacyCwd = join(home, 'ops');
    writeRun(join(legacyCwd, '.certroll', 'runs'), '20251101T000000Z-0ld0ld', { 'plan.json': plan('20251101T000000Z-0ld0ld'), 'facts.json': facts(), 'run.json': summary('20251101T000000Z-0ld0ld') });
    try {
      delete process.env.CERTROLL_HOME;
      process.env.XDG_STATE_HOME = join(home, 'state');
      process.chdir(legacyCwd);
      const runs = await listRuns();
      expect(runs.map((r) => [r.runId, r.state, Boolean(r.legacy)])).toEqual([
        ['20261202T093000Z-abc123', 'interrupted', false],
        ['20261202T100000Z-000001', 'damaged', false],
        ['bad\\u001bname', 'damaged', false],
        ['20251101T000000Z-0ld0ld', 'interrupted', true],
      ]);
      expect(runs[1]!.damaged).toMatch(/run\.json is not valid JSON/);
      // Resumable from the old location: readRun finds it there, and a Journal opened on it goes on writing there.
      const old = await readRun('20251101T000000Z-0ld0ld');
      expect(old?.legacy).toBe(true);
      expect(old?.dir).toBe(join(legacyCwd, '.certroll', 'runs', '20251101T000000Z-0ld0ld'));
      expect(new Journal('20251101T000000Z-0ld0ld').dir).toBe(old?.dir);
      expect(new Journal(newRunId()).dir.startsWith(root)).toBe(true);
    } finally {
      process.env.CERTROLL_HOME = env.CERTROLL_HOME;
      if (env.CERTROLL_HOME === undefined) delete process.env.CERTROLL_HOME;
      if (env.XDG_STATE_HOME === undefined) delete process.env.XDG_STATE_HOME;
      else process.env.XDG_STATE_HOME = env.XDG_STATE_HOME;
    }
  });
});

describe('durable events', () => {
  it('appends one line per event and intent, readable back', async () => {
    const j = new Journal(newRunId(), join(tmp, 'events'));
    await j.init();
    await Promise.all([j.event({ event: 'a' }), j.event({ event: 'b' })]);
    await j.intent({ step: 'Restart etcd', host: 'n1', detail: { action: 'park', manifest: 'tos-etcd.manifest' } });
    const events = parseEvents(readFileSync(join(j.dir, 'events.jsonl'), 'utf8'), 'events.jsonl', j.runId);
    expect(events.map((e) => e.event).sort()).toEqual(['a', 'b', 'intent']);
    expect(events.find((e) => e.event === 'intent')?.detail).toEqual({ action: 'park', manifest: 'tos-etcd.manifest' });
  });
  it('never writes a private key', async () => {
    const j = new Journal(newRunId(), join(tmp, 'events'));
    await j.init();
    await expect(j.event({ event: 'x', message: '-----BEGIN ' + 'PRIVATE KEY-----' })).rejects.toThrow(/private key/);
  });
});

describe('the CLI on bad run ids and damaged journals (built CLI, no host contacted)', () => {
  const home = join(tmp, 'cli');
  const cli = (args: string[], env: Record<string, string> = {}) =>
    exec('node', ['dist/cli/bin.js', ...args], { env: { ...process.env, NO_COLOR: '1', CERTROLL_HOME: home, ...env }, timeout: 20_000 }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  beforeAll(() => {
    writeRun(join(home, 'runs'), ID, { 'plan.json': JSON.stringify(plan()).slice(0, 50), 'facts.json': facts(), 'run.json': summary() });
  });

  it.each([
    [['run', '--resume', '../../x'], /--resume: "..\/..\/x" is not a run id/],
    [['run', '--resume', '/etc/passwd'], /--resume: "\/etc\/passwd" is not a run id/],
    [['run', '--resume', 'a\u001bb'], /--resume: "a\\u001bb" is not a run id/],
    [['rollback', '-i', 'inventories/lab.yaml', '--run', '../../x'], /--run: "..\/..\/x" is not a run id/],
    [['rollback', '-i', 'inventories/lab.yaml', '--run', '/abs'], /--run: "\/abs" is not a run id/],
    [['run', '--resume', ID], /journal of run 20261202T093000Z-abc123 is damaged[^]*plan\.json: is not valid JSON/],
    [['rollback', '--run', ID], /plan\.json[^]*is not valid JSON/],
  ])('certroll %j exits 3 with a clear message', async (args, why) => {
    const r = await cli(args);
    expect(r.stderr).toMatch(why);
    expect(r.code).toBe(3);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(r.stderr).not.toMatch(/\u001b/);
  });

  it('names a CERTROLL_HOME that is a file (runs, run --resume)', async () => {
    const file = join(tmp, 'home-is-a-file');
    writeFileSync(file, 'x');
    for (const args of [['runs'], ['run', '--resume', ID]]) {
      const r = await cli(args, { CERTROLL_HOME: file });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/CERTROLL_HOME=".*home-is-a-file": .* is (not a directory|a file)/);
    }
  });

  it('runs prints no control character raw', async () => {
    mkdirSync(join(home, 'runs', 'evil\u001b]0;x\u0007'), { recursive: true });
    writeRun(join(home, 'runs'), '20261202T110000Z-aaaaaa', { 'run.json': { ...summary('20261202T110000Z-aaaaaa'), playbook: 'pb\u001b[31m.yaml', stoppedAt: 'step\r\nX' } });
    const r = await cli(['runs']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(r.stdout).toContain('evil\\u001b]0;x\\u0007');
    expect(r.stdout).toContain('pb\\u001b[31m.yaml');
    expect(r.stdout).toMatch(/evil\S+ +damaged +the directory name is not a run id/);
  });
});
