// No dead end after the point of no return (issue 9 §2): a step that fails after the roll does not stop the steps that do
// not depend on it; the run ends "completed with errors" (exit 5) naming what is left, and --resume [--skip] finishes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAB_INVENTORY, certroll as cli, freshLab, inHost as inHostOf, lab, type LabHostInfo } from '../support/cli.js';

const root = mkdtempSync(join(tmpdir(), 'certroll-e2e-dead-end-'));
const PB = join(root, 'flannel-fails.yaml');
const home = join(root, 'home');
let hosts: LabHostInfo[];
const inHost = (h: string, s: string) => inHostOf(hosts, h, s);
const certroll = (args: string[]) => cli(args, { CERTROLL_HOME: home });
const FILES = 'cd /srv/kubernetes && sha256sum etcd-ca.pem etcd.pem etcd-key.pem';

function events(runId: string): Array<{ event: string; step?: string; index?: number }> {
  return readFileSync(join(home, 'runs', runId, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } });
}

beforeAll(async () => {
  // The shipped playbook, but the flannel restart fails as kubectl does when it points to no cluster.
  const shipped = readFileSync('playbooks/tos-etcd-renew.yaml', 'utf8');
  const failing = shipped.replace(/command: \[sh, -c, "kubectl delete po[^\n]*\n/, `command: [sh, -c, "echo 'The connection to the server localhost:8080 was refused - did you specify the right host or port?' >&2; exit 1"]\n`);
  expect(failing).not.toBe(shipped);
  writeFileSync(PB, failing);
  hosts = await freshLab();
}, 600_000);
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  await lab('reset');
}, 600_000);

describe('a failing step after the roll', { timeout: 300_000 }, () => {
  it('flannel restart fails: every member rolled, both Manager steps run, "completed with errors" (exit 5); --resume --skip finishes', async () => {
    const before: Record<string, string> = {};
    for (const h of hosts) before[h.name] = await inHost(h.name, FILES);

    const r = await certroll(['run', '-i', LAB_INVENTORY, PB, '--yes', '--pause', '1']);
    expect(r.code, r.stdout + r.stderr).toBe(5);
    expect(r.stderr).toContain('completed with errors');
    expect(r.stderr).toContain('restart-flannel');
    expect(r.stderr).toContain('localhost:8080 was refused');
    const runId = /run (\d{8}T\d{6}Z-[0-9a-f]{6})/.exec(r.stderr)![1]!;
    expect(r.stderr).toContain(`certroll run --resume ${runId} --skip "restart-flannel"`);

    // Every member was restarted, and the steps that do not need the flannel restart ran.
    const ev = events(runId);
    expect(ev.filter((e) => e.event === 'node-restarted')).toHaveLength(3);
    const OUTCOMES = ['step-done', 'step-failed', 'step-not-run', 'step-done-earlier', 'step-done-by-operator'];
    const outcome = (type: string) => ev.filter((e) => OUTCOMES.includes(e.event) && e.step?.endsWith(type)).map((e) => e.event).at(-1);
    expect(outcome('restart-flannel')).toBe('step-failed');
    expect(outcome('verify')).toBe('step-done');
    expect(outcome('manager-templates')).toBe('step-done');
    expect(outcome('manager-db')).toBe('step-done');
    const summary = JSON.parse(readFileSync(join(home, 'runs', runId, 'run.json'), 'utf8'));
    expect(summary.state).toBe('completed-with-errors');
    expect(summary.undone).toEqual([expect.stringContaining('restart-flannel')]);

    // Every host holds the same new files; the Manager's database rows equal them (read independently with mysql).
    const after = new Set<string>();
    for (const h of hosts) after.add(await inHost(h.name, FILES));
    expect(after.size).toBe(1);
    expect([...after][0]).not.toBe(before[hosts[0]!.name]);
    const manager = hosts.find((h) => h.roles.includes('manager'))!;
    const out = await inHost(manager.name, 'mysql -uroot --batch --skip-column-names -e "SELECT \\`key\\`, HEX(\\`value\\`) FROM manager.manager_info ORDER BY 1"');
    const rows = Object.fromEntries(out.trim().split('\n').map((l) => l.split('\t')).map(([k, v]) => [k!, Buffer.from(v!, 'hex').toString('utf8')]));
    for (const f of ['etcd-ca.pem', 'etcd.pem', 'etcd-key.pem']) {
      const file = await inHost(hosts[0]!.name, `cat /srv/kubernetes/${f}`);
      expect(rows[f], f).toBe(file.replace(/\n$/, ''));
    }

    // A plain resume retries only the failed step (and fails again the same way, nothing else re-run).
    const again = await certroll(['run', '--resume', runId, '--yes', '--pause', '1']);
    expect(again.code, again.stderr).toBe(5);
    const ev2 = events(runId).slice(ev.length);
    expect(ev2.filter((e) => e.event === 'node-restarted')).toHaveLength(0);
    expect(ev2.filter((e) => e.event === 'step-done-earlier').map((e) => e.step)).toEqual(expect.arrayContaining([expect.stringContaining('rolling-restart'), expect.stringContaining('manager-db')]));

    // The operator restarts flannel by hand and says so: the run completes.
    const done = await certroll(['run', '--resume', runId, '--skip', 'restart-flannel', '--yes', '--pause', '1']);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    const final = JSON.parse(readFileSync(join(home, 'runs', runId, 'run.json'), 'utf8'));
    expect(final.state).toBe('succeeded');
    expect(final.skippedByOperator).toEqual([expect.stringContaining('restart-flannel')]);
    const runs = await certroll(['runs']);
    expect(runs.stdout).toContain(runId);
    expect(runs.stdout).toMatch(/DONE BY HAND[\s\S]*7\. restart-flannel/);
  });
});
