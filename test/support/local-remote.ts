// A Remote for "this machine": sh -c with stdin and plain fs calls, so that apply halves run with the real shell against a
// temporary directory, without SSH and without root. The SSH transport is tested on its own (test/unit/ssh, test/e2e/ssh-*).
import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import type { ExecOptions, ExecResult, Remote, RemoteStat, WriteOptions } from '../../src/ssh/remote.js';
import { HostError } from '../../src/errors.js';
import { quoteArgv } from '../../src/ssh/quote.js';
import { preludeScript } from '../../src/ssh/exec.js';
import { hostScope } from '../../src/inventory/targets.js';
import type { Inventory } from '../../src/inventory/types.js';
import type { Plan, PlannedStep } from '../../src/plan/types.js';
import type { Playbook } from '../../src/playbook/types.js';
import type { ApplyContext } from '../../src/steps/types.js';

/** A Remote for "this machine": sh -c with stdin, plain fs calls. The SSH transport is tested elsewhere; here what matters is the shell and mysql. */
export class LocalRemote implements Remote {
  readonly address = '127.0.0.1';
  readonly counters = { connections: 0, roundTrips: 0 };
  /** Every script run, with its stdin: tests check that no secret reaches a command line. */
  readonly log: Array<{ script: string; stdin?: string }> = [];
  constructor(readonly host = 'local') {}
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return this.sh(quoteArgv(argv), opts);
  }
  sh(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.counters.roundTrips++;
    // ExecOptions.prelude: the same shell text as an SSH exec sends (src/ssh/exec.ts).
    const sent = opts.prelude ? preludeScript(opts.prelude, script) : script;
    this.log.push({ script: sent, ...(opts.stdin !== undefined ? { stdin: opts.stdin.toString() } : {}) });
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
      const p = spawn('/bin/sh', ['-c', sent], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.stdin.on('error', () => undefined); // a script that exits without reading stdin
      p.stdin.end(opts.stdin ?? '');
      p.on('error', reject);
      p.on('close', (code, signal) => {
        const r: ExecResult = { host: this.host, command: script, exitCode: code, signal, stdout, stderr, durationMs: Date.now() - t0 };
        if (code !== 0 && !opts.allowFailure) return reject(new HostError(this.host, 'command', `${this.host}: command failed (exit ${code}): ${stderr.trim()}`));
        resolve(r);
      });
    });
  }
  async readFile(path: string): Promise<Buffer> {
    return readFile(path);
  }
  async writeFileAtomic(path: string, data: Buffer | string, opts: WriteOptions = {}): Promise<void> {
    const tmp = `${path}.certroll-tmp-${process.pid}`;
    await writeFile(tmp, data, { mode: 0o600 });
    if (opts.uid !== undefined || opts.gid !== undefined) await chown(tmp, opts.uid ?? -1, opts.gid ?? -1);
    await chmod(tmp, opts.mode ?? 0o644);
    await rename(tmp, path);
  }
  async rename(from: string, to: string): Promise<void> {
    await rename(from, to);
  }
  async stat(path: string): Promise<RemoteStat | null> {
    try {
      const s = await stat(path);
      return { path, size: s.size, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, mtimeMs: s.mtimeMs, isDirectory: s.isDirectory(), isFile: s.isFile() };
    } catch {
      return null;
    }
  }
  async mkdir(path: string, opts: { mode?: number; recursive?: boolean } = {}): Promise<void> {
    await mkdir(path, { recursive: opts.recursive ?? false, mode: opts.mode ?? 0o755 });
  }
  async close(): Promise<void> {}
}

/**
 * An ApplyContext for the engine over one LocalRemote host: the plan's steps, the inventory and playbook, no material;
 * `overrides` sets what a test needs otherwise (facts, signal, locked hosts, env…).
 */
export function localApplyContext(
  a: { steps: PlannedStep[]; inventory: Inventory; playbook: Playbook; remote: LocalRemote; runId: string; createdAt: string },
  overrides: Partial<ApplyContext> = {},
): ApplyContext {
  const host = a.remote.host;
  return {
    plan: { runId: a.runId, createdAt: a.createdAt, steps: a.steps } as unknown as Plan,
    inventory: a.inventory,
    playbook: a.playbook,
    material: null,
    remotes: new Map([[host, a.remote]]),
    remote: () => a.remote,
    scope: (n) => hostScope(a.inventory, a.playbook, n),
    runId: a.runId,
    facts: { gatheredAt: a.createdAt, hosts: {}, unreachable: [], etcd: null },
    options: { breakLock: false, controlHost: 'test-control', user: 'tester', onFailure: 'stop' },
    signal: new AbortController().signal,
    journalIntent: async () => undefined,
    locked: new Set(),
    ...overrides,
  } as ApplyContext;
}
