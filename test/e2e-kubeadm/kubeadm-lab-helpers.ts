// Helpers for end-to-end tests on the kubeadm lab (docs/lab.md, "The kubeadm lab"): its lock, bringing it up, resetting it,
// running commands on its hosts over real SSH or inside their namespaces.
//
// The lab is shared by every kubeadm e2e file and by people running `npm run lab -- … --flavour kubeadm`: a test file holds
// its lock (/tmp/certroll-lab-kubeadm.lock, flock(1)) from beforeAll to afterAll. When the test runs under
// `flock /tmp/certroll-lab-kubeadm.lock npx vitest …` the lock is already held by an ancestor process and is not taken again.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { kubeadmDefaults, LabLayout } from '../../lab/src/layout.js';
import { anchorAlive, down, labExec, loadState, reset, up } from '../../lab/src/lab.js';

const execFileP = promisify(execFile);

export const KUBEADM_LAB_DIR = kubeadmDefaults.dir;
export const KUBEADM_LAB_LOCK = process.env.CERTROLL_KUBEADM_LAB_LOCK || '/tmp/certroll-lab-kubeadm.lock';

export interface KubeadmLabHost {
  name: string;
  address: string;
  roles: string[];
}

export interface KubeadmLab {
  dir: string;
  inventory: string;
  identityFile: string;
  knownHostsFile: string;
  hosts: KubeadmLabHost[];
  controlPlane: KubeadmLabHost[];
  workers: KubeadmLabHost[];
}

const quiet = () => {};

function info(dir: string): KubeadmLab {
  const state = loadState(dir);
  if (!state) throw new Error(`no lab in ${dir}`);
  const layout = new LabLayout(state.options);
  const hosts = state.hosts.map((h) => ({ name: h.name, address: h.address, roles: h.roles }));
  return {
    dir: layout.dir,
    inventory: layout.inventory,
    identityFile: layout.clientKey,
    knownHostsFile: layout.knownHosts,
    hosts,
    controlPlane: hosts.filter((h) => h.roles.includes('control-plane')),
    workers: hosts.filter((h) => h.roles.includes('worker')),
  };
}

/** The pids of this process and its ancestors. */
function ancestors(): Set<number> {
  const out = new Set<number>();
  let pid = process.pid;
  while (pid > 1 && !out.has(pid)) {
    out.add(pid);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return out;
}

/** True when a flock on `file` is held by this process or an ancestor (from /proc/locks: pid and inode). */
export function lockHeldByAncestor(file: string): boolean {
  if (!existsSync(file)) return false;
  const ino = statSync(file).ino;
  const mine = ancestors();
  return readFileSync('/proc/locks', 'utf8').split('\n').some((l) => {
    const f = l.trim().split(/\s+/);
    // "1: FLOCK  ADVISORY  WRITE 5928 fe:00:1573754 0 EOF"
    return f[1] === 'FLOCK' && mine.has(Number(f[4])) && Number(f[5]?.split(':')[2]) === ino;
  });
}

/**
 * Take the kubeadm lab's lock (waiting for whoever holds it); returns the function that releases it. The lock is held by a
 * `flock … cat` child whose stdin is ours: it is released when we release it or when this process dies.
 */
export async function takeKubeadmLabLock(timeoutMs = 600_000): Promise<() => void> {
  if (lockHeldByAncestor(KUBEADM_LAB_LOCK)) return () => {};
  const child: ChildProcess = spawn('flock', ['-x', '-w', String(Math.ceil(timeoutMs / 1000)), KUBEADM_LAB_LOCK, '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('locked')) resolve();
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`could not take ${KUBEADM_LAB_LOCK} (flock exited ${code}): ${err.trim()}`)));
    child.on('error', reject);
  });
  return () => {
    child.stdin!.end();
  };
}

/** The kubeadm lab's description, bringing it up first when it is not up (or is broken: then it is rebuilt). Hold the lock. */
export async function ensureKubeadmLab(dir = KUBEADM_LAB_DIR): Promise<KubeadmLab> {
  const state = loadState(dir);
  if (state?.complete && state.hosts.every(anchorAlive)) return info(dir);
  if (state) await down(dir, quiet);
  await up({ flavour: 'kubeadm', dir }, quiet);
  return info(dir);
}

/** Every host back to the files `up` made, fresh etcd, every control-plane endpoint answering. Hold the lock. */
export async function resetKubeadmLab(dir = KUBEADM_LAB_DIR): Promise<KubeadmLab> {
  await ensureKubeadmLab(dir);
  await reset(dir, quiet);
  return info(dir);
}

/**
 * For a test file: take the lock and reset the lab in beforeAll (or only bring it up, with `reset: false`), release the
 * lock in afterAll (after resetting again with `resetAfter: true`). The returned object is filled in by beforeAll.
 */
export function useKubeadmLab(opts: { reset?: boolean; resetAfter?: boolean } = {}): KubeadmLab {
  const lab = {} as KubeadmLab;
  let release: () => void = () => {};
  beforeAll(async () => {
    release = await takeKubeadmLabLock();
    Object.assign(lab, opts.reset === false ? await ensureKubeadmLab() : await resetKubeadmLab());
  }, 600_000);
  afterAll(async () => {
    try {
      if (opts.resetAfter) await resetKubeadmLab(lab.dir);
    } finally {
      release();
    }
  }, 120_000);
  return lab;
}

/** Run a command on a host through its real sshd (the lab's key and known_hosts; never the user's ssh config). */
export async function ssh(lab: KubeadmLab, address: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileP('ssh', ['-n', '-i', lab.identityFile, '-o', `UserKnownHostsFile=${lab.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes',
      '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '-F', '/dev/null', `root@${address}`, command], { maxBuffer: 16 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** Run a shell script inside a host's namespaces (not through sshd); rejects when it exits non-zero. */
export async function kubeadmLabSh(host: string, script: string, dir = KUBEADM_LAB_DIR): Promise<string> {
  const r = await labExec(dir, host, ['/bin/sh', '-c', script]);
  if (r.code !== 0) throw new Error(`${host}: sh -c ${JSON.stringify(script)} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Path on the real filesystem of the file that `host` sees at absPath (through the host's bind mounts). */
export function kubeadmHostPath(host: string, absPath: string, dir = KUBEADM_LAB_DIR): string {
  const state = loadState(dir);
  if (!state) throw new Error(`no lab in ${dir}`);
  const h = state.hosts.find((x) => x.name === host || x.address === host);
  if (!h) throw new Error(`no lab host ${host}`);
  return new LabLayout(state.options).hostPath(h, absPath);
}
