// Process plumbing for the lab: run a command, start a detached one inside a host's namespaces, find and end a namespace's processes.
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, readlinkSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A clean environment for everything started inside a lab host (no pyenv, no inherited oddities). */
export const hostEnv: NodeJS.ProcessEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  USER: 'root',
  LOGNAME: 'root',
};

/** Run a command to completion, capturing output. Never throws for a non-zero exit. */
export function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolveP, reject) => {
    const child = spawn(cmd, args, { cwd: '/', env: opts.env ?? { ...process.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolveP({ code: code ?? (signal ? 128 + 9 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Like run, but a non-zero exit is an error carrying the command and its stderr. */
export async function runOk(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r;
}

/** nsenter arguments that enter a lab host's mount and UTS namespaces (those of its anchor). */
export function nsenterArgs(anchorPid: number): string[] {
  return [`--mount=/proc/${anchorPid}/ns/mnt`, `--uts=/proc/${anchorPid}/ns/uts`, '--'];
}

/** Start a long-lived process detached from us (own session, output appended to logFile); returns its pid. */
export function spawnDetached(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = hostEnv): number {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(cmd, args, { cwd: '/', env, detached: true, stdio: ['ignore', fd, fd] });
    child.on('error', () => {});
    child.unref();
    if (!child.pid) throw new Error(`cannot start ${cmd}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** A process exists and is not a zombie. */
export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** The mount namespace id of a process ("mnt:[4026531841]"), or undefined. */
export function mountNs(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

function allPids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

/** Map mount-namespace id → live pids in it (one scan of /proc). */
export function pidsByMountNs(): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const pid of allPids()) {
    if (!isAlive(pid)) continue;
    const ns = mountNs(pid);
    if (!ns) continue;
    const l = m.get(ns);
    if (l) l.push(pid);
    else m.set(ns, [pid]);
  }
  return m;
}

/** pid and every live descendant of it. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of allPids()) {
    const pp = parentPid(p);
    if (pp === undefined) continue;
    const l = children.get(pp);
    if (l) l.push(p);
    else children.set(pp, [p]);
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    if (isAlive(p)) out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** SIGTERM the given pids, wait up to graceMs, SIGKILL whatever is left, and wait until all are gone. */
export async function endProcesses(pids: number[], graceMs = 3000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    for (const p of pids) {
      try {
        if (isAlive(p)) process.kill(p, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(25);
  if (pids.some(isAlive)) {
    signal('SIGKILL');
    const hard = Date.now() + 5000;
    while (pids.some(isAlive) && Date.now() < hard) await sleep(25);
  }
}

/** Poll until fn() is truthy or timeoutMs passes; returns the last value. */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > deadline) return v;
    await sleep(intervalMs);
  }
}

/** True when something on address:port accepts and sends an SSH banner within timeoutMs. */
export function sshBanner(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolveP) => {
    const sock = connect({ host: address, port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolveP(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\n')) done(buf.startsWith('SSH-'));
    });
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
  });
}

/** True when address:port accepts a TCP connection. */
export function tcpOpen(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolveP) => {
    const sock = connect({ host: address, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolveP(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on('connect', () => done(true));
    sock.on('error', () => done(false));
  });
}
