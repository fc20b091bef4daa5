// Signals on the real lab (issue 17 §2): SIGHUP with the terminal gone and SIGTERM both stop `run` at a safe point, with
// the signal's exit code (129, 143), the journal saying `interrupted`, no member left parked, and `run --resume` finishing.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAB_INVENTORY, certroll as cli, freshLab, inHost as inHostOf, lab, labDbEnv, type LabHostInfo } from '../support/cli.js';

const root = mkdtempSync(join(tmpdir(), 'certroll-e2e-signals-'));
const PB = join(root, 'fast.yaml');
let home = '';
let hosts: LabHostInfo[];
const inHost = (h: string, s: string) => inHostOf(hosts, h, s);
const etcd = () => hosts.filter((h) => h.roles.includes('etcd'));

function events(runId: string): Array<{ event: string; host?: string; step?: string; message?: string }> {
  const f = join(home, 'runs', runId, 'events.jsonl');
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } }) : [];
}
const latestRunId = () => readdirSync(join(home, 'runs')).sort().at(-1) ?? 'none-yet';
async function until(cond: () => boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for the run to reach the rolling restart');
    await new Promise((r) => setTimeout(r, 20));
  }
}
async function clusterHealthy(): Promise<number> {
  const eps = etcd().map((h) => `https://${h.address}:4001`).join(',');
  const out = await inHost(etcd()[0]!.name, `ETCDCTL_API=3 etcdctl --cacert /srv/kubernetes/etcd-ca.pem --cert /srv/kubernetes/etcd.pem --key /srv/kubernetes/etcd-key.pem --endpoints ${eps} endpoint health 2>&1 || true`);
  return (out.match(/is healthy/g) ?? []).length;
}

/** `certroll run` as a child whose exit code and killing signal are both seen (a death by signal has code null). */
function startRun(extra: string[] = []) {
  const child = spawn('node', ['dist/cli/bin.js', 'run', '-i', LAB_INVENTORY, PB, '--yes', '--pause', '3', ...extra], {
    env: { ...process.env, NO_COLOR: '1', ...labDbEnv(), CERTROLL_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exit, output: () => out };
}

beforeAll(() => {
  writeFileSync(PB, readFileSync('playbooks/tos-etcd-renew.yaml', 'utf8').replace('healthTimeoutSeconds: 180', 'healthTimeoutSeconds: 30').replace('stopTimeoutSeconds: 120', 'stopTimeoutSeconds: 30'));
});
beforeEach(async () => {
  home = mkdtempSync(join(root, 'home-'));
  hosts = await freshLab();
}, 600_000);
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  await lab('reset');
}, 600_000);

describe('signals', { timeout: 300_000 }, () => {
  it('SIGHUP with the terminal gone (stdout and stderr closed) during the rolling restart: exit 129, journal interrupted, no member parked, --resume completes', async () => {
    const run = startRun();
    // While a member is parked (its manifests moved out, the 3 s pause running): the signal must not leave it down.
    await until(() => existsSync(join(home, 'runs')) && events(latestRunId()).some((e) => e.event === 'result' && /^park:/.test(e.message ?? '')));
    // The terminal closes: the reading ends of stdout and stderr go away (every later write gets EPIPE), then SIGHUP.
    run.child.stdout.destroy();
    run.child.stderr.destroy();
    run.child.kill('SIGHUP');
    const { code, signal } = await run.exit;
    expect(signal, 'certroll died of the signal instead of stopping at a safe point').toBeNull();
    expect(code, run.output()).toBe(129);
    const runId = latestRunId();
    const state = JSON.parse(readFileSync(join(home, 'runs', runId, 'run.json'), 'utf8'));
    expect(state.state).toBe('interrupted');
    expect(state.stoppedAt).toContain('rolling-restart');
    for (const h of etcd()) expect(await inHost(h.name, 'ls /opt/kubernetes/manifests-multi')).toContain('tos-etcd.manifest');
    const resumed = await cli(['run', '--resume', runId, '--yes', '--pause', '1'], { CERTROLL_HOME: home });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await clusterHealthy()).toBe(3);
  });

  it('a real terminal closing (pty master closed: SIGHUP, then EIO on every write) under the live TTY renderer: exit 129, journal interrupted, no member parked', async () => {
    // The parent of a pty: relays nothing, drains the master until the test asks it to hang up, then reports how the child ended.
    const ptyParent = [
      'import json, os, pty, select, sys',
      'pid, fd = pty.fork()',
      'if pid == 0:',
      '    os.execvp(sys.argv[1], sys.argv[1:])',
      'while not os.path.exists(os.environ["HANGUP"]):',
      '    if select.select([fd], [], [], 0.05)[0]:',
      '        try: os.read(fd, 65536)',
      '        except OSError: break',
      'os.close(fd)',
      '_, st = os.waitpid(pid, 0)',
      'print(json.dumps({"code": os.WEXITSTATUS(st) if os.WIFEXITED(st) else None, "signal": os.WTERMSIG(st) if os.WIFSIGNALED(st) else None}))',
    ].join('\n');
    const hangup = join(home, 'hangup');
    const parent = spawn('python3', ['-c', ptyParent, 'node', 'dist/cli/bin.js', 'run', '-i', LAB_INVENTORY, PB, '--yes', '--pause', '3'], {
      env: { ...process.env, ...labDbEnv(), CERTROLL_HOME: home, HANGUP: hangup, TERM: 'xterm-256color' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let report = '';
    parent.stdout.on('data', (d) => (report += d));
    parent.stderr.on('data', (d) => (report += d));
    const ended = new Promise<void>((resolve) => parent.on('close', () => resolve()));
    // While a member is parked (its manifests moved out, the 3 s pause running): the signal must not leave it down.
    await until(() => existsSync(join(home, 'runs')) && events(latestRunId()).some((e) => e.event === 'result' && /^park:/.test(e.message ?? '')));
    writeFileSync(hangup, '');
    await ended;
    const end = JSON.parse(report.trim().split('\n').at(-1)!) as { code: number | null; signal: number | null };
    expect(end, report).toEqual({ code: 129, signal: null });
    const runId = latestRunId();
    const state = JSON.parse(readFileSync(join(home, 'runs', runId, 'run.json'), 'utf8'));
    expect(state.state).toBe('interrupted');
    for (const h of etcd()) expect(await inHost(h.name, 'ls /opt/kubernetes/manifests-multi')).toContain('tos-etcd.manifest');
    expect(await clusterHealthy()).toBe(3);
  });

  it('the SSH connection to a parked member\'s host drops (its sshd stopped for 4 s): the run reconnects with backoff and completes', async () => {
    const run = startRun();
    await until(() => existsSync(join(home, 'runs')) && events(latestRunId()).some((e) => e.event === 'result' && /^park:/.test(e.message ?? '')));
    const parked = events(latestRunId()).find((e) => e.event === 'result' && /^park:/.test(e.message ?? ''))!.host!;
    await lab('stop-sshd', parked);
    await new Promise((r) => setTimeout(r, 4000));
    await lab('start-sshd', parked);
    const { code } = await run.exit;
    expect(code, run.output()).toBe(0);
    const runId = latestRunId();
    expect(events(runId).filter((e) => e.event === 'reconnected').map((e) => e.host)).toEqual([parked]);
    expect(run.output()).toContain(`${parked}: SSH connection lost`);
    for (const h of etcd()) expect(await inHost(h.name, 'ls /opt/kubernetes/manifests-multi')).toContain('tos-etcd.manifest');
    expect(await clusterHealthy()).toBe(3);
  });

  it('the parked member\'s host stays unreachable past --reconnect-timeout: the run stops naming the parked files and the command; --resume completes once it is back', async () => {
    const run = startRun(['--reconnect-timeout', '2']);
    await until(() => existsSync(join(home, 'runs')) && events(latestRunId()).some((e) => e.event === 'result' && /^park:/.test(e.message ?? '')));
    const parked = events(latestRunId()).find((e) => e.event === 'result' && /^park:/.test(e.message ?? ''))!.host!;
    await lab('stop-sshd', parked);
    const { code } = await run.exit;
    const runId = latestRunId();
    try {
      expect(code, run.output()).not.toBe(0);
      expect(run.output()).toMatch(new RegExp(`${parked}: SSH connection lost and not back within 2s`));
      expect(run.output()).toContain('/opt/kubernetes/tos-etcd.manifest');
      expect(run.output()).toContain(`certroll run --resume ${runId}`);
    } finally {
      await lab('start-sshd', parked);
    }
    const resumed = await cli(['run', '--resume', runId, '--yes', '--pause', '1'], { CERTROLL_HOME: home });
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    for (const h of etcd()) expect(await inHost(h.name, 'ls /opt/kubernetes/manifests-multi')).toContain('tos-etcd.manifest');
    expect(await clusterHealthy()).toBe(3);
  });

  it('SIGTERM during the rolling restart: exit 143, journal interrupted, no member parked', async () => {
    const run = startRun();
    // While a member is parked (its manifests moved out, the 3 s pause running): the signal must not leave it down.
    await until(() => existsSync(join(home, 'runs')) && events(latestRunId()).some((e) => e.event === 'result' && /^park:/.test(e.message ?? '')));
    run.child.kill('SIGTERM');
    const { code, signal } = await run.exit;
    expect(signal).toBeNull();
    expect(code, run.output()).toBe(143);
    expect(run.output()).toMatch(/SIGTERM: finishing the action in progress/);
    const runId = latestRunId();
    expect(run.output()).toContain(`--resume ${runId}`);
    // The stop message reads the hosts: what is out of place and the one command that finishes it.
    expect(run.output()).toContain('Where the hosts stand now');
    expect(run.output()).toContain(`Next: certroll run --resume ${runId}`);
    expect(JSON.parse(readFileSync(join(home, 'runs', runId, 'run.json'), 'utf8')).state).toBe('interrupted');
    for (const h of etcd()) expect(await inHost(h.name, 'ls /opt/kubernetes/manifests-multi')).toContain('tos-etcd.manifest');
    expect(await clusterHealthy()).toBe(3);
  });
});
