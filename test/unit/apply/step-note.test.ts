// The engine's lock-step note (src/apply/step-note.ts): owner.json on the lock's host names the step no later than the
// step's first command, in front of it (no round trip of its own) when that command is an exec on the lock's host, on its
// own before it otherwise; never a second time in a step; never over another run's lock; the command itself unchanged.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { StepNote } from '../../../src/apply/step-note.js';
import { lockDirOf } from '../../../src/host-paths.js';
import { takeLock, type LockOwner } from '../../../src/steps/lock.js';
import { LocalRemote } from '../../support/local-remote.js';

const top = mkdtempSync(join(tmpdir(), 'certroll-step-note-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));
const certDir = join(top, 'srv', 'kubernetes');
const ownerFile = join(lockDirOf(certDir), 'owner.json');
const RUN = '20261203T020000Z-note01';
const owner: LockOwner = { runId: RUN, startedAt: '2026-12-03T02:00:00.000Z', controlHost: 'ctl', user: 'ops' };
const STEP = "6. rolling-restart 'quoted' $HOME `x`";

let fm: LocalRemote;
let other: LocalRemote;
const note = () => new StepNote((h) => ({ fm, other })[h as 'fm' | 'other'], { host: 'fm', certDir, owner, step: STEP });
const held = () => JSON.parse(readFileSync(ownerFile, 'utf8')) as LockOwner;

beforeEach(async () => {
  rmSync(top, { recursive: true, force: true });
  mkdirSync(certDir, { recursive: true });
  fm = new LocalRemote('fm');
  other = new LocalRemote('other');
  await takeLock(fm, certDir, owner, false);
  fm.counters.roundTrips = 0;
  fm.log.length = 0;
});

describe('the lock-step note', () => {
  it('rides in front of the first exec on the lock host: one round trip, the command sees stdin and keeps its output and exit code', async () => {
    const n = note();
    const r = await n.remote('fm').sh(`cat; echo out; echo err >&2; sed -n 's/.*"step":"\\([^"]*\\)".*/\\1/p' ${ownerFile}; exit 3`, { stdin: 'from stdin\n', allowFailure: true });
    expect(r.exitCode).toBe(3);
    // The note was written before the command ran (the command read it back).
    expect(r.stdout).toBe(`from stdin\nout\n6. rolling-restart 'quoted' $HOME \`x\``); // owner.json has no final newline
    expect(r.stderr).toBe('err\n');
    expect(fm.counters.roundTrips).toBe(1);
    expect(held()).toMatchObject({ ...owner, step: STEP, pid: process.pid });
    expect(n.sent).toBe(true);
  });

  it('is sent once: later commands on any host carry nothing', async () => {
    const n = note();
    await n.remote('fm').exec(['true']);
    await n.remote('fm').sh('true');
    await n.remote('other').sh('true');
    expect(fm.log).toHaveLength(2);
    expect(fm.log[0]!.script).toContain('owner.json.tmp');
    expect(fm.log[1]!.script).toBe('true');
    expect(other.log.map((l) => l.script)).toEqual(['true']);
  });

  it('when the first command goes to another host, the note goes on its own first (the command finds it written)', async () => {
    const n = note();
    const r = await n.remote('other').sh(`cat ${ownerFile}`);
    expect(JSON.parse(r.stdout)).toMatchObject({ runId: RUN, step: STEP });
    expect(fm.counters.roundTrips).toBe(1);
    expect(other.log.map((l) => l.script)).toEqual([`cat ${ownerFile}`]);
    // Commands sent at once wait for that one note: no second note.
    const n2 = note();
    await Promise.all([n2.remote('other').sh('true'), n2.remote('other').sh('true'), n2.remote('fm').sh('true')]);
    expect(fm.log.filter((l) => l.script.includes('owner.json.tmp'))).toHaveLength(2);
  });

  it('a file operation on the lock host first: the note on its own before it', async () => {
    writeFileSync(join(certDir, 'etcd.pem'), 'CERT\n');
    const n = note();
    expect((await n.remote('fm').readFile(join(certDir, 'etcd.pem'))).toString()).toBe('CERT\n');
    expect(fm.log).toHaveLength(1);
    expect(held().step).toBe(STEP);
  });

  it('another run\'s lock, or none, is left as it is; the command still runs', async () => {
    const theirs = JSON.stringify({ runId: 'other-run', startedAt: 'x' });
    writeFileSync(ownerFile, theirs);
    const r = await note().remote('fm').sh('echo ran');
    expect(r.stdout).toBe('ran\n');
    expect(readFileSync(ownerFile, 'utf8')).toBe(theirs);
    rmSync(lockDirOf(certDir), { recursive: true });
    expect((await note().remote('fm').sh('echo ran')).stdout).toBe('ran\n');
    expect(existsSync(lockDirOf(certDir))).toBe(false);
  });

  it('a host with no connection stays without one', () => {
    const n = new StepNote(() => undefined as never, { host: 'fm', certDir, owner, step: STEP });
    expect(n.remote('gone')).toBeUndefined();
  });
});
