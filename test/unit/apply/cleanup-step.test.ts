// Every run plan ends with an explicit cleanup step (staged files deleted after a failure, locks released) that the engine
// runs as `always`; a run journaled before that step existed (its plan has none) still resumes.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPlan } from '../../../src/apply/engine.js';
import { doneSteps, resolveSkips } from '../../../src/run/resume.js';
import { UsageError } from '../../../src/errors.js';
import { lockDirOf, runStagedPattern, stagedName } from '../../../src/host-paths.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { Journal, readRun } from '../../../src/journal/journal.js';
import { makeMaterial } from '../../../src/plan/material.js';
import { renderPlan } from '../../../src/plan/render.js';
import type { Plan, PlannedStep } from '../../../src/plan/types.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import type { Playbook } from '../../../src/playbook/types.js';
import { buildPlan, cleanupStep, renewalNeed } from '../../../src/planner/build.js';
import { palette } from '../../../src/render/text.js';
import { takeLock } from '../../../src/steps/lock.js';
import type { ApplyContext, ResumeState } from '../../../src/steps/types.js';
import { LocalRemote, localApplyContext } from '../../support/local-remote.js';
import { Workdir } from '../pki/fixtures.js';
import { FakeFleet, inventory } from '../plan/fake-fleet.js';

const wd = new Workdir();
const top = mkdtempSync(join(tmpdir(), 'certroll-cleanup-'));
let pb: Playbook;
let ca: string, leaf: string;
const now = new Date();
const RUN = '20261202T150000Z-cln001';

beforeAll(async () => {
  pb = await loadPlaybook('playbooks/tos-etcd-renew.yaml');
  wd.cfsslCa('ca', 'etcd-ca');
  wd.cfsslLeaf('leaf', 'ca', ['n1', 'n2', 'n3', '127.0.0.1', '10.96.0.1', '10.9.0.1', '10.9.0.2', '10.9.0.3'], { expiry: '480h' });
  ca = wd.read('ca.pem');
  leaf = wd.read('leaf.pem');
});
afterAll(() => {
  wd.remove();
  rmSync(top, { recursive: true, force: true });
});

const fleet = () => new FakeFleet().host('n1', { ca, cert: leaf }, { caKey: true }).host('n2', { ca, cert: leaf }).host('n3', { ca, cert: leaf }).etcd(['n1', 'n2', 'n3'], 'n1');

async function plan(resume?: ResumeState): Promise<Plan> {
  const inv = inventory(['n1', 'n2', 'n3']);
  const f = fleet();
  const need = renewalNeed(inv, pb, f.facts, now, 90);
  const m = await makeMaterial({ inventory: inv, playbook: pb, oldCaPem: ca, oldLeafPem: leaf, caKeyPem: wd.secret('ca-key.pem'), now });
  return buildPlan({ inventory: inv, playbook: pb, facts: f.facts, material: m.material, summary: m.summary, findings: m.findings, need, options: { runId: RUN, now, renewWithinDays: 90, force: false }, ...(resume ? { resume } : {}) });
}

describe('the cleanup step of a run plan', () => {
  it('is the last step, after the playbook\'s: on every host, release the lock and (after a failure) delete this run\'s staged files', async () => {
    const p = await plan();
    expect(p.status).toBe('ready');
    const last = p.steps.at(-1)!;
    expect(p.steps.map((s) => s.type)).toEqual([...pb.steps.map((s) => s.type), 'cleanup']);
    expect(last.index).toBe(pb.steps.length);
    expect(last.hosts).toEqual(['n1', 'n2', 'n3']);
    expect(last.actions).toEqual(['n1', 'n2', 'n3'].map((host) => ({ kind: 'release', host, path: '/srv/kubernetes.certroll-lock', dir: '/srv/kubernetes', staged: `.*.certroll-*${RUN}` })));
  });

  it('certroll plan shows it', async () => {
    const text = renderPlan(await plan(), palette(false));
    expect(text).toContain(`  ${pb.steps.length + 1}. clean up (cleanup) — 3 hosts`);
    expect(text).toContain('always runs, also after a failure or an interrupt');
    expect(text).toContain(`n1–n3: release the run lock /srv/kubernetes.certroll-lock (after a failure, first delete this run's staged files .*.certroll-*${RUN} under /srv/kubernetes)`);
  });

  it('a plan with nothing to do has no steps, not even cleanup', async () => {
    const inv = inventory(['n1', 'n2', 'n3']);
    const f = fleet();
    const p = buildPlan({ inventory: inv, playbook: pb, facts: f.facts, material: null, summary: null, findings: [], need: { needed: false, reasons: ['valid'] }, options: { runId: RUN, now, renewWithinDays: 1, force: false } });
    expect(p.status).toBe('nothing-to-do');
    expect(p.steps).toEqual([]);
  });

  it('--skip cannot name it', async () => {
    const p = await plan();
    expect(() => resolveSkips(['cleanup'], p, {})).toThrow(UsageError);
    expect(() => resolveSkips([String(pb.steps.length + 1)], p, {})).toThrow(/cleanup runs at the end of every run/);
  });
});

describe('resume of a run journaled before the cleanup step existed', () => {
  // The journal of the old shape: plan.json without a cleanup step; the run failed in rolling-restart (index 5).
  const restart = () => pb.steps.findIndex((s) => s.type === 'rolling-restart');
  async function oldJournal(): Promise<string> {
    const root = join(top, 'journals');
    mkdirSync(root, { recursive: true });
    const p = await plan();
    const old: Plan = { ...p, steps: p.steps.filter((s) => s.type !== 'cleanup') };
    const j = new Journal(RUN, root);
    await j.init();
    await j.put('plan.json', old);
    await j.put('facts.json', fleet().facts);
    for (let i = 0; i < restart(); i++) await j.intent({ event: 'step-done', step: `${i + 1}. ${pb.steps[i]!.title}`, index: i });
    await j.intent({ event: 'step-failed', step: `${restart() + 1}. ${pb.steps[restart()]!.title}`, index: restart(), message: 'n2: not healthy' });
    for (let i = restart() + 1; i < pb.steps.length; i++) await j.intent({ event: 'step-not-run', step: `${i + 1}. ${pb.steps[i]!.title}`, index: i, message: 'needs rolling-restart' });
    await j.summary({ runId: RUN, inventory: 'fake.yaml', playbook: pb.file, startedAt: p.createdAt, state: 'completed-with-errors' });
    return root;
  }

  it('reads the old journal, maps done steps and --skip by playbook index, and plans the cleanup step anew at the end', async () => {
    const stored = (await readRun(RUN, await oldJournal()))!;
    const oldPlan = stored.plan as Plan;
    expect(oldPlan.steps.some((s) => s.type === 'cleanup')).toBe(false);
    const done = doneSteps(stored.events);
    expect(Object.keys(done).map(Number)).toEqual([...Array(restart()).keys()]);
    const skipped = resolveSkips(['restart-flannel'], oldPlan, done);
    expect(skipped).toEqual([pb.steps.findIndex((s) => s.type === 'restart-flannel')]);
    for (const i of skipped) done[i] = 'operator';

    const resumed = await plan({ restarted: ['n2'], done });
    expect(resumed.steps.map((s) => s.index)).toEqual([...Array(pb.steps.length + 1).keys()]);
    // Live changes the stopped run made are not planned again; the rest is, and cleanup ends the plan, not done.
    for (const s of resumed.steps.filter((x) => x.done)) expect(done[s.index]).toBeDefined();
    expect(resumed.steps.find((s) => s.type === 'distribute')!.done).toBe('earlier');
    expect(resumed.steps.find((s) => s.type === 'restart-flannel')!.done).toBe('operator');
    expect(resumed.steps.find((s) => s.type === 'rolling-restart')!.done).toBeUndefined();
    const last = resumed.steps.at(-1)!;
    expect([last.type, last.index, last.done]).toEqual(['cleanup', pb.steps.length, undefined]);
  });

  it('a journal of the new shape whose cleanup ran: the resumed plan runs its cleanup again', async () => {
    const done = { ...Object.fromEntries([...Array(restart()).keys()].map((i) => [i, 'earlier' as const])), ...doneSteps([{ event: 'step-done', index: pb.steps.length }]) };
    const resumed = await plan({ restarted: [], done });
    expect(resumed.steps.at(-1)!.type).toBe('cleanup');
    expect(resumed.steps.at(-1)!.done).toBeUndefined();
  });
});

describe('the engine runs the cleanup step as always', () => {
  const certDir = join(top, 'srv', 'kubernetes');
  const inv = parseInventory([`vars: { serviceIp: 10.96.0.1, certDir: ${certDir} }`, 'ssh: { identityFile: /tmp/id, knownHostsFile: /tmp/kh }', 'hosts:', '  n1: { address: 127.0.0.1 }', 'groups: { master: [n1], etcd: [n1] }'].join('\n'), 'inv.yaml');
  const remote = new LocalRemote('n1');
  async function context(steps: PlannedStep[], signal = new AbortController().signal): Promise<ApplyContext> {
    return localApplyContext({ steps, inventory: inv, playbook: pb, remote, runId: RUN, createdAt: now.toISOString() }, { facts: fleet().facts, signal });
  }
  // A step of the run before cleanup, done by the stopped run (resume), and one that fails on the host.
  const earlier = (): PlannedStep => ({ index: 0, type: 'preflight', title: 'preflight', at: { file: pb.file }, hosts: ['n1'], actions: [], notes: [], done: 'earlier' });
  const failing = (): PlannedStep => ({ index: 1, type: 'backup', title: 'backup', at: { file: pb.file }, hosts: ['n1'], actions: [{ kind: 'backup', host: 'n1', from: certDir, to: join(top, 'no-such-backup'), files: 1, kib: 1, existing: true }], notes: [] });

  async function prepare(): Promise<void> {
    rmSync(certDir, { recursive: true, force: true });
    mkdirSync(certDir, { recursive: true });
    writeFileSync(join(certDir, 'etcd.pem'), 'live\n');
    writeFileSync(stagedName(certDir, 'etcd.pem', RUN), 'staged by this run\n');
    writeFileSync(stagedName(certDir, 'etcd.pem', 'other-run'), 'another run\n');
    await takeLock(remote, certDir, { runId: RUN, startedAt: 'now', controlHost: 'ctl', user: 'u' }, false);
  }

  it('after a failed step: cleanup is a step of its own (journaled done), deletes this run\'s staged files only and releases the lock', async () => {
    await prepare();
    const ctx = await context([earlier(), failing(), cleanupStep(inv, pb, RUN)]);
    ctx.locked.add('n1');
    const journal = new Journal(RUN, join(top, 'j1'));
    await journal.init();
    const result = await applyPlan(ctx, { renderer: 'silent', forks: 1, journal });
    expect(result.outcomes.map((o) => [o.type, o.state])).toEqual([['preflight', 'done-earlier'], ['backup', 'failed'], ['cleanup', 'done']]);
    expect(result.outcomes[2]!.label).toBe(`${pb.steps.length + 1}. clean up`);
    expect(existsSync(stagedName(certDir, 'etcd.pem', RUN))).toBe(false);
    expect(existsSync(stagedName(certDir, 'etcd.pem', 'other-run'))).toBe(true);
    expect(existsSync(join(certDir, 'etcd.pem'))).toBe(true);
    expect(existsSync(lockDirOf(certDir))).toBe(false);
    const events = readFileSync(join(journal.dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; index?: number });
    expect(events.filter((e) => e.event.startsWith('step-') && e.index !== undefined).map((e) => [e.event, e.index])).toEqual([['step-done-earlier', 0], ['step-failed', 1], ['step-done', pb.steps.length]]);
  });

  it('interrupted before the first step: only cleanup runs; staged files deleted, lock released, the result an interruption', async () => {
    await prepare();
    const stop = new AbortController();
    stop.abort();
    const ctx = await context([failing(), cleanupStep(inv, pb, RUN)], stop.signal);
    ctx.locked.add('n1');
    const journal = new Journal(RUN, join(top, 'j2'));
    await journal.init();
    const result = await applyPlan(ctx, { renderer: 'silent', forks: 1, journal });
    expect(result.outcomes.map((o) => [o.type, o.state])).toEqual([['backup', 'not-run'], ['cleanup', 'done']]);
    expect((result.error as Error).name).toBe('Interrupted');
    expect(existsSync(stagedName(certDir, 'etcd.pem', RUN))).toBe(false);
    expect(existsSync(lockDirOf(certDir))).toBe(false);
  });

  it('a run that succeeds keeps nothing staged to delete and releases the lock; staged files are left alone', async () => {
    await prepare();
    const ctx = await context([earlier(), cleanupStep(inv, pb, RUN)]);
    ctx.locked.add('n1');
    const journal = new Journal(RUN, join(top, 'j3'));
    await journal.init();
    const result = await applyPlan(ctx, { renderer: 'silent', forks: 1, journal });
    expect(result.error).toBeUndefined();
    expect(result.outcomes.map((o) => o.state)).toEqual(['done-earlier', 'done']);
    expect(existsSync(stagedName(certDir, 'etcd.pem', RUN))).toBe(true);
    expect(existsSync(lockDirOf(certDir))).toBe(false);
    expect(runStagedPattern(RUN)).toBe(`.*.certroll-*${RUN}`);
  });
});
