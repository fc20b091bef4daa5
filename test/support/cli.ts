// Test helpers for end-to-end runs: the certroll CLI as a child process, the lab's CLI, and a look inside a lab host
// through its namespaces (independent of certroll's own SSH layer).
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';

const run = promisify(execFile);
export const LAB_DIR = process.env.CERTROLL_LAB_DIR || '/var/lib/certroll-lab';
export const LAB_INVENTORY = join(LAB_DIR, 'inventory.yaml');

export interface LabHostInfo {
  name: string;
  address: string;
  roles: string[];
  anchor: { pid: number };
}

export async function lab(...args: string[]): Promise<string> {
  return (await run('node', ['lab/dist/cli.js', ...args, '--dir', LAB_DIR], { maxBuffer: 1 << 24 })).stdout;
}

/** Bring the lab up if it is not, reset it to its expiring state, and describe its hosts. */
export async function freshLab(): Promise<LabHostInfo[]> {
  // `lab reset` rebuilds a lab left broken (e.g. its processes gone after a reboot): a leftover lab.json is not a running lab.
  if (!existsSync(join(LAB_DIR, 'lab.json'))) await run('node', ['lab/dist/cli.js', 'up', '--dir', LAB_DIR], { maxBuffer: 1 << 24 });
  await lab('reset');
  return (JSON.parse(await lab('status', '--json')) as { hosts: LabHostInfo[] }).hosts;
}

/** Run a script inside a lab host's mount and UTS namespaces. */
export async function inHost(hosts: LabHostInfo[], host: string, script: string): Promise<string> {
  const pid = hosts.find((h) => h.name === host)!.anchor.pid;
  return (await run('nsenter', ['--target', String(pid), '--mount', '--uts', '--', 'sh', '-c', script], { maxBuffer: 1 << 24, env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/root' } })).stdout;
}

/** The lab manager database's password, as an operator would export it (never on a command line). */
export function labDbEnv(): Record<string, string> {
  const f = join(LAB_DIR, 'db-password');
  return existsSync(f) ? { CERTROLL_DB_PASSWORD: readFileSync(f, 'utf8').trim() } : {};
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function certroll(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  try {
    const r = await run('node', ['dist/cli/bin.js', ...args], { maxBuffer: 1 << 26, env: { ...process.env, NO_COLOR: '1', ...labDbEnv(), ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** Start certroll without waiting: for interrupting it or racing a second run against it. */
export function certrollBackground(args: string[], env: Record<string, string | undefined> = {}) {
  const child = spawn('node', ['dist/cli/bin.js', ...args], { env: { ...process.env, NO_COLOR: '1', ...labDbEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr })));
  return { child, done, output: () => stdout + stderr };
}
