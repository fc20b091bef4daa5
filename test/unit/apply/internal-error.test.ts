// A bug in certroll inside a step's apply half (a TypeError, RangeError or ReferenceError: the same test as toHostError's
// isBug in src/ssh/fleet.ts) is not an ordinary step failure: the engine runs no further step except the always-run
// cleanup, the journal records where it stopped, and the error reaches the CLI as it is (exit 70, stack on stderr).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPlan } from '../../../src/apply/engine.js';
import { lockDirOf, stagedName } from '../../../src/host-paths.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { Journal } from '../../../src/journal/journal.js';
import type { PlannedStep, PlanStepType } from '../../../src/plan/types.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import type { Playbook } from '../../../src/playbook/types.js';
import { cleanupStep } from '../../../src/planner/build.js';
import { applyHalves } from '../../../src/steps/index.js';
import { takeLock } from '../../../src/steps/lock.js';
import type { ApplyContext, ApplyHalf } from '../../../src/steps/types.js';
import { endExecution, journaledExecution } from '../../../src/run/execution.js';
import { LocalRemote, localApplyContext } from '../../support/local-remote.js';

const top = mkdtempSync(join(tmpdir(), 'certroll-bug-'));
const certDir = join(top, 'srv', 'kubernetes');
const RUN = '20261202T190000Z-bug001';
const now = new Date();
let pb: Playbook;
const remote = new LocalRemote('n1');
const inv = parseInventory([`vars: { serviceIp: 10.96.0.1, certDir: ${certDir} }`, 'ssh: { identityFile: /tmp/id, knownHostsFile: /tmp/kh }', 'hosts:', '  n1: { address: 127.0.0.1 }', 'groups: { master: [n1], etcd: [n1] }'].join('\n'), 'inv.yaml');

// Two step types stand in for step modules of this test: one whose apply half stages a file on the host and then trips
// over its own bug, and one that does not need it (an independent step, which an ordinary failure would not stop).
const buggy: PlanStepType = 'restart-flannel';
const independent: PlanStepType = 'verify';
const saved: Partial<Record<PlanStepType, ApplyHalf<never>>> = {};
const ran: string[] = [];
function install(type: PlanStepType, half: ApplyHalf<never>): void {
  saved[type] ??= applyHalves[type];
  applyHalves[type] = half;
}

beforeAll(async () => {
  pb = await loadPlaybook('playbooks/tos-etcd-renew.yaml');
  install(buggy, {
    type: buggy,
    needs: [],
    changesLiveState: true,
    apply: () => ({
      concurrent: false,
      items: [{
        title: 'n1: stage and parse',
        host: 'n1',
        run: async () => {
          ran.push('buggy');
          await remote.writeFileAtomic(stagedName(certDir, 'etcd.pem', RUN), 'staged by this run\n');
          const parsed = undefined as unknown as { lines: string[] };
          parsed.lines.push('x'); // TypeError: a bug in certroll, not something the host did
        },
      }],
    }),
  });
  install(independent, { type: independent, needs: [], changesLiveState: false, apply: () => ({ concurrent: false, items: [{ title: 'n1: independent', host: 'n1', run: async () => void ran.push('independent') }] }) });
});
afterAll(() => {
  for (const [t, h] of Object.entries(saved)) applyHalves[t as PlanStepType] = h!;
  rmSync(top, { recursive: true, force: true });
});

const step = (index: number, type: PlanStepType): PlannedStep => ({ index, type, title: type, at: { file: 'x.yaml' }, hosts: ['n1'], actions: [], notes: [] });

async function setUp(): Promise<ApplyContext> {
  ran.length = 0;
  rmSync(certDir, { recursive: true, force: true });
  mkdirSync(certDir, { recursive: true });
  writeFileSync(join(certDir, 'etcd.pem'), 'live\n');
  await takeLock(remote, certDir, { runId: RUN, startedAt: 'now', controlHost: 'ctl', user: 'u' }, false);
  const ctx = localApplyContext(
    { steps: [{ ...step(0, buggy), actions: [{ kind: 'restart', host: 'n1' } as never] }, step(1, independent), cleanupStep(inv, pb, RUN)], inventory: inv, playbook: pb, remote, runId: RUN, createdAt: now.toISOString() },
    { locked: new Set(['n1']) },
  );
  return ctx;
}

describe('a bug inside an apply half', () => {
  it('the engine: the step is journaled failed, no later step runs but cleanup (staged files deleted, lock released), the result names the bug', async () => {
    const ctx = await setUp();
    const journal = new Journal(RUN, join(top, 'j1'));
    await journal.init();
    const result = await applyPlan(ctx, { renderer: 'silent', forks: 1, journal });
    expect(ran).toEqual(['buggy']);
    expect(result.outcomes.map((o) => [o.type, o.state])).toEqual([[buggy, 'failed'], [independent, 'not-run'], ['cleanup', 'done']]);
    expect(result.outcomes[1]!.reason).toMatch(/internal error in step 1\. restart-flannel/);
    expect(result.bug).toBeInstanceOf(TypeError);
    expect(result.error).toBe(result.bug);
    expect(result.stoppedAt).toBe('1. restart-flannel');
    expect(existsSync(stagedName(certDir, 'etcd.pem', RUN))).toBe(false);
    expect(existsSync(join(certDir, 'etcd.pem'))).toBe(true);
    expect(existsSync(lockDirOf(certDir))).toBe(false);
    const events = readFileSync(join(journal.dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; index?: number });
    expect(events.filter((e) => e.event.startsWith('step-') && e.index !== undefined).map((e) => [e.event, e.index])).toEqual([['step-failed', 0], ['step-not-run', 1], ['step-done', pb.steps.length]]);
  });

  it('the journaled execution: run.json says failed and where, then endExecution throws the TypeError itself (exit 70 in cli/main.ts), not CompletedWithErrors or a HostError', async () => {
    const ctx = await setUp();
    const root = join(top, 'j2');
    const journal = new Journal(RUN, root);
    await journal.init();
    const base = { runId: RUN, inventory: 'inv.yaml', playbook: pb.file, startedAt: now.toISOString() };
    const said: string[] = [];
    const x = await journaledExecution({
      what: 'run',
      summary: (s) => journal.summary({ ...base, ...s }),
      apply: (signal) => applyPlan({ ...ctx, signal }, { renderer: 'silent', forks: 1, journal }),
    });
    // Past the point of no return (the buggy step changes live state), yet not completed-with-errors: a bug is no step failure.
    expect(x.result.pastNoReturn).toBe(true);
    expect(x.state).toBe('failed');
    expect(x.interrupted).toBe(false);
    const end = endExecution(x, { json: false, say: (l) => said.push(l), leftOut: async () => 'left out: nothing', stopped: 'Run stopped. Journal: …', interruptedHint: 'stopped at a safe point' });
    await expect(end).rejects.toBeInstanceOf(TypeError);
    await expect(end).rejects.toBe(x.result.bug);
    expect(said).toEqual(['\nleft out: nothing', 'Run stopped. Journal: …']);
    const summary = JSON.parse(readFileSync(join(journal.dir, 'run.json'), 'utf8')) as { state: string; stoppedAt: string; error: string; undone: string[] };
    expect(summary).toMatchObject({ state: 'failed', stoppedAt: '1. restart-flannel', undone: ['1. restart-flannel', '2. verify'] });
    expect(summary.error).toMatch(/^internal error: Cannot read properties of undefined/);
    expect(existsSync(lockDirOf(certDir))).toBe(false);
  });
});
