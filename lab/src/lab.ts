// The local lab's lifecycle: bring a TOS-like cluster of namespaced hosts up, report on it, reset it to its expiring PKI, take it down.
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, chown, cp, lstat, mkdir, readFile, readdir, readlink, rename, rm, rmdir, utimes, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import pLimit from 'p-limit';
import { LabLayout, gencertsDir, inHost, inKubeadm, resolveOptions, type LabFlavour, type LabHost, type LabOptions } from './layout.js';
import { apiserverManifest, etcdEndpoints, etcdManifest, flannelManifest, inventoryYaml, managerDbSql, myCnf, sshdConfig } from './files.js';
import { kubeadmInventoryYaml } from './kubeadm-files.js';
import { makeKubeadmPristine } from './kubeadm-pki.js';
import { ensurePackages } from './packages.js';
import { chooseSshPort } from './ssh-port.js';
import { PROGRAMS, programText, tosFixturesDir } from './assets.js';
import {
  cmdline, descendants, endProcesses, hostEnv, isAlive, mountNs, nsenterArgs, pidsByMountNs, run, runOk, sleep, spawnDetached,
  sshBanner, tcpOpen, waitFor, type RunResult,
} from './proc.js';

export type Log = (msg: string) => void;

export interface HostState extends LabHost {
  anchorPid: number;
  sshdPid?: number;
  kubeletPid?: number;
  mariadbPid?: number;
}

export interface LabState {
  version: 1;
  options: LabOptions;
  hosts: HostState[];
  /** Mountpoint directories that up created on the real filesystem (down removes them when empty). */
  createdDirs: string[];
  /** false while up is still working. */
  complete: boolean;
  upAt: string;
}

/**
 * What differs between the flavours in how a host's files are laid out: the mountpoints up creates on the real filesystem,
 * the private directories (under hosts/NAME/fs) that up and reset fill from the pristine tree, and the directory of the
 * static-pod manifests, which is filled last (a kubelet stand-in starts pods as soon as their manifest appears).
 */
interface FlavourFiles {
  mountpoints: string[];
  /** fs dirs replaced by their pristine twin, in order, before the manifests. */
  restored: string[];
  /** The manifests: fs dir (relative to hosts/NAME/fs) and its pristine twin (relative to pristine/hosts/NAME). */
  manifests: { fs: string; pristine: string };
  /** The manifests dir inside a host (the kubelet stand-in's --pod-manifest-path). */
  manifestsDir: string;
}

const FILES: Record<LabFlavour, FlavourFiles> = {
  tos: {
    mountpoints: ['/opt/kubernetes', '/var/lib/transwarp-manager', '/var/lib/etcd', '/var/lib/mysql', '/run/mysqld'],
    restored: ['var-lib-etcd', 'tmp', 'srv', 'var-lib-transwarp-manager'],
    manifests: { fs: 'opt-kubernetes', pristine: 'opt-kubernetes' },
    manifestsDir: inHost.manifestsDir,
  },
  kubeadm: {
    mountpoints: ['/etc/kubernetes', '/var/lib/kubelet', '/var/lib/etcd'],
    restored: ['var-lib-etcd', 'tmp', 'root', 'var-lib-kubelet', 'etc-kubernetes'],
    manifests: { fs: 'etc-kubernetes/manifests', pristine: 'manifests' },
    manifestsDir: inKubeadm.manifestsDir,
  },
};

const filesOf = (layout: LabLayout) => FILES[layout.flavour];
/** sshd's privilege separation dir: created when missing, never removed (other sshds, other labs need it). */
const SSHD_PRIVSEP = '/run/sshd';

/** Paths that some other mount namespace (another lab, a container) has something mounted on. rmdir would detach those mounts. */
function mountedInOtherNamespaces(paths: string[]): Set<string> {
  const out = new Set<string>();
  const own = mountNs(process.pid);
  for (const [ns, pids] of pidsByMountNs()) {
    if (ns === own) continue;
    try {
      for (const line of readFileSync(`/proc/${pids[0]}/mountinfo`, 'utf8').split('\n')) {
        const mp = line.split(' ')[4];
        if (mp && paths.includes(mp)) out.add(mp);
      }
    } catch {
      /* process gone */
    }
  }
  return out;
}

export function loadState(dir: string): LabState | undefined {
  const f = join(dir, 'lab.json');
  if (!existsSync(f)) return undefined;
  return JSON.parse(readFileSync(f, 'utf8')) as LabState;
}

async function saveState(layout: LabLayout, state: LabState): Promise<void> {
  await writeFile(layout.stateFile + '.tmp', JSON.stringify(state, null, 2) + '\n');
  await rename(layout.stateFile + '.tmp', layout.stateFile);
}

/** The anchor pid still is our anchor: alive, running sleep, in a mount namespace other than ours. */
export function anchorAlive(h: HostState): boolean {
  if (!isAlive(h.anchorPid)) return false;
  const ns = mountNs(h.anchorPid);
  return !!ns && ns !== mountNs(process.pid) && cmdline(h.anchorPid).startsWith('sleep');
}

function stateOf(dir: string): { layout: LabLayout; state: LabState } {
  const state = loadState(dir);
  if (!state) throw new Error(`the lab is not up (no ${join(dir, 'lab.json')}): run \`npm run lab -- up\``);
  return { layout: new LabLayout(state.options), state };
}

function findHost(state: LabState, name: string): HostState {
  const h = state.hosts.find((x) => x.name === name || x.address === name);
  if (!h) throw new Error(`no lab host "${name}"; hosts: ${state.hosts.slice(0, 8).map((x) => x.name).join(', ')}${state.hosts.length > 8 ? ', …' : ''}`);
  return h;
}

// ---------------------------------------------------------------- up

/** Install the lab's programs (up, and reset: a lab kept up across code changes runs the current stand-ins at their next start). */
async function writeScripts(layout: LabLayout): Promise<void> {
  await mkdir(layout.binDir, { recursive: true });
  await mkdir(layout.usrLocalBin, { recursive: true, mode: 0o755 });
  for (const p of PROGRAMS.filter((x) => x.flavours.includes(layout.flavour))) {
    // Write beside and rename: a host may be starting the program at this very moment.
    const target = join(p.place === 'lab-bin' ? layout.binDir : layout.usrLocalBin, p.name);
    await writeFile(`${target}.tmp`, programText(p.asset, layout.hostsDir), { mode: 0o755 });
    await chmod(`${target}.tmp`, 0o755);
    await rename(`${target}.tmp`, target);
  }
}

/** Original PKI and per-host pristine trees, from which up and reset copy every host's files. */
async function makePristine(layout: LabLayout, hosts: LabHost[]): Promise<void> {
  const p = layout.pristine;
  await mkdir(p, { recursive: true, mode: 0o700 });
  const etcd = hosts.filter((h) => h.roles.includes('etcd'));
  const masters = hosts.filter((h) => h.roles.includes('master'));
  const etcdSans = [...etcd.map((h) => `DNS:${h.name}`), 'IP:127.0.0.1', `IP:${inHost.serviceIp}`, ...etcd.map((h) => `IP:${h.address}`)];
  const apiSans = ['DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local',
    ...masters.map((h) => `DNS:${h.name}`), 'IP:127.0.0.1', `IP:${inHost.serviceIp}`, ...masters.map((h) => `IP:${h.address}`)];
  await runOk('/bin/bash', [join(layout.binDir, 'gen-pki.sh'), p], {
    env: { ...hostEnv, ETCD_SANS: etcdSans.join(','), API_SANS: apiSans.join(','), DAYS: String(layout.opts.days), SERVER: `https://${masters[0]!.address}:${inHost.apiserverPort}`, TOS_FIXTURES: tosFixturesDir },
  });
  for (const h of [...hosts.filter((x) => !x.roles.includes('extra')), undefined]) {
    const t = join(p, 'hosts', h ? h.name : '_extra');
    await mkdir(join(t, 'srv'), { recursive: true });
    await cp(join(p, 'srv-kubernetes'), join(t, 'srv', 'kubernetes'), { recursive: true, preserveTimestamps: true });
    if (h && h === masters[0]) await cp(join(p, 'ca-key', 'etcd-ca-key.pem'), join(t, 'srv', 'kubernetes', 'etcd-ca-key.pem'), { preserveTimestamps: true });
    const ok = join(t, 'opt-kubernetes');
    await mkdir(join(ok, 'manifests-multi'), { recursive: true });
    await writeFile(join(ok, 'README'), 'Parking place of the static-pod manifests (tos-etcd.manifest, tos-apiserver.manifest) while their pod is stopped.\n');
    if (h?.roles.includes('master')) {
      await writeFile(join(ok, 'manifests-multi', 'tos-etcd.manifest'), etcdManifest(h, etcd));
      await writeFile(join(ok, 'manifests-multi', 'tos-apiserver.manifest'), apiserverManifest(h, etcd));
    }
    if (h?.roles.includes('flannel')) {
      await writeFile(join(ok, 'manifests-multi', 'tos-flannel.manifest'), flannelManifest(join(layout.hostsDir, h.name, 'run', 'flanneld.pid'), etcd));
    }
    const tw = join(t, 'var-lib-transwarp-manager');
    await mkdir(tw, { recursive: true });
    if (h?.roles.includes('manager')) {
      const g = join(tw, gencertsDir.slice('/var/lib/transwarp-manager/'.length));
      await mkdir(g, { recursive: true });
      await cp(join(p, 'gencerts'), g, { recursive: true, preserveTimestamps: true });
    }
  }
}

/**
 * Make a host's private directories hold exactly the pristine files (tos: srv, opt/kubernetes, manager templates; kubeadm:
 * /etc/kubernetes, /var/lib/kubelet, /root; empty /tmp and etcd data). `files`: all but the manifests; `manifests`: only them.
 */
async function restoreHostFiles(layout: LabLayout, h: LabHost, what: 'all' | 'files' | 'manifests' = 'all'): Promise<void> {
  const fs = join(layout.hostsDir, h.name, 'fs');
  const src = join(layout.pristine, 'hosts', h.roles.includes('extra') ? '_extra' : h.name);
  const f = filesOf(layout);
  // The manifests come last: a kubelet stand-in starts pods as soon as their manifest appears.
  const pairs = [
    ...(what !== 'manifests' ? f.restored.map((d) => ({ target: d, source: d })) : []),
    ...(what !== 'files' ? [{ target: f.manifests.fs, source: f.manifests.pristine }] : []),
  ];
  for (const d of pairs) {
    const target = join(fs, d.target);
    await mkdir(target, { recursive: true });
    for (const e of await readdir(target)) await rm(join(target, e), { recursive: true, force: true });
    if (existsSync(join(src, d.source))) {
      await cp(join(src, d.source), target, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
      await copyDirTimes(join(src, d.source), target);
    }
  }
  await chmod(join(fs, 'tmp'), 0o1777);
  await chmod(join(fs, 'var-lib-etcd'), 0o700);
  if (layout.flavour === 'tos') await chmod(join(fs, 'srv'), 0o755);
  const pub = await readFile(layout.clientKey + '.pub', 'utf8');
  await mkdir(join(fs, 'root', '.ssh'), { recursive: true, mode: 0o700 });
  await chmod(join(fs, 'root'), 0o700);
  await writeFile(join(fs, 'root', '.ssh', 'authorized_keys'), pub, { mode: 0o600 });
}

/** Give every directory under target the mtime of its twin under src (cp sets them before filling the directory). */
async function copyDirTimes(src: string, target: string): Promise<void> {
  for (const e of await readdir(src, { withFileTypes: true })) {
    if (e.isDirectory()) await copyDirTimes(join(src, e.name), join(target, e.name));
  }
  const st = await lstat(src);
  await utimes(target, st.atime, st.mtime);
}

async function prepareHost(layout: LabLayout, h: LabHost): Promise<void> {
  const p = layout.hostPaths(h);
  await mkdir(p.run, { recursive: true });
  await mkdir(p.log, { recursive: true });
  await mkdir(p.etc, { recursive: true, mode: 0o700 });
  for (const m of p.mounts) await mkdir(m.source, { recursive: true });
  await writeFile(join(p.root, 'mounts'), p.mounts.map((m) => `${m.source} ${m.target}`).join('\n') + '\n');
  const key = join(p.etc, 'ssh_host_ed25519_key');
  if (!existsSync(key)) await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${h.name}`, '-f', key]);
  await writeFile(join(p.etc, 'sshd_config'), sshdConfig(h, layout.opts.sshPort, key));
}

async function startAnchor(layout: LabLayout, h: LabHost): Promise<number> {
  const p = layout.hostPaths(h);
  await rm(join(p.run, 'anchor.pid'), { force: true });
  const unsharePid = spawnDetached('unshare', ['--mount', '--uts', '--propagation', 'private', '--fork', '/bin/sh', join(layout.binDir, 'anchor.sh'), h.name, p.root], join(p.log, 'anchor.log'));
  const pidFile = join(p.run, 'anchor.pid');
  const ok = await waitFor(() => existsSync(pidFile) || !isAlive(unsharePid), 15000, 10);
  if (!ok || !existsSync(pidFile)) {
    throw new Error(`${h.name}: the namespace anchor did not come up: ${readFileSync(join(p.log, 'anchor.log'), 'utf8').trim().slice(-1000)}`);
  }
  return Number(readFileSync(pidFile, 'utf8').trim());
}

/** Start sshd in the host's namespaces (not daemonized, so its pid is ours to record) and wait until it sends its banner. */
async function startSshdProcess(layout: LabLayout, h: HostState): Promise<number> {
  const p = layout.hostPaths(h);
  const pid = spawnDetached('nsenter', [...nsenterArgs(h.anchorPid), '/usr/sbin/sshd', '-D', '-e', '-f', join(p.etc, 'sshd_config')], join(p.log, 'sshd.log'));
  const up = await waitFor(async () => !isAlive(pid) || (await sshBanner(h.address, layout.opts.sshPort, 500)), 15000, 20);
  if (!up || !isAlive(pid)) {
    throw new Error(`${h.name}: sshd did not start on ${h.address}:${layout.opts.sshPort}: ${readFileSync(join(p.log, 'sshd.log'), 'utf8').trim().slice(-800)}`);
  }
  return pid;
}

function startInHost(layout: LabLayout, h: HostState, argv: string[], logName: string): number {
  return spawnDetached('nsenter', [...nsenterArgs(h.anchorPid), ...argv], join(layout.hostPaths(h).log, logName));
}

function startKubelet(layout: LabLayout, h: HostState): number {
  const p = layout.hostPaths(h);
  return startInHost(layout, h, ['/usr/bin/python3', '/usr/local/bin/lab-kubelet', filesOf(layout).manifestsDir, join(p.run, 'containers.json'), p.log], 'kubelet.log');
}

/** The hosts that run a kubelet stand-in. */
function runsKubelet(h: LabHost): boolean {
  return h.roles.some((r) => r === 'master' || r === 'flannel' || r === 'control-plane' || r === 'worker');
}

/** Run a command inside a lab host's namespaces and capture its output. */
export function execIn(anchorPid: number, argv: string[], input?: string, timeoutMs = 60000): Promise<RunResult> {
  return run('nsenter', [...nsenterArgs(anchorPid), ...argv], { env: hostEnv, input, timeoutMs });
}

async function dbPassword(layout: LabLayout): Promise<string> {
  return (await readFile(layout.dbPasswordFile, 'utf8')).trim();
}

async function managerSql(layout: LabLayout): Promise<string> {
  const k = join(layout.pristine, 'srv-kubernetes');
  return managerDbSql({
    'etcd-ca.pem': await readFile(join(k, 'etcd-ca.pem'), 'utf8'),
    'etcd.pem': await readFile(join(k, 'etcd.pem'), 'utf8'),
    'etcd-key.pem': await readFile(join(k, 'etcd-key.pem'), 'utf8'),
  }, await dbPassword(layout));
}

async function startMariadb(layout: LabLayout, h: HostState): Promise<number> {
  const p = layout.hostPaths(h);
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('mysql:'));
  if (!passwd) throw new Error('user mysql does not exist: is mariadb-server installed?');
  const [, , uid, gid] = passwd.split(':');
  for (const d of ['var-lib-mysql', 'run-mysqld']) {
    const dir = join(p.root, 'fs', d);
    await chown(dir, Number(uid), Number(gid));
    await chmod(dir, 0o755);
  }
  await writeFile(join(p.etc, 'my.cnf'), myCnf(h), { mode: 0o644 });
  await chmod(p.etc, 0o755);
  if (!existsSync(join(p.root, 'fs', 'var-lib-mysql', 'mysql'))) {
    const r = await execIn(h.anchorPid, ['mariadb-install-db', `--defaults-file=${join(p.etc, 'my.cnf')}`, '--user=mysql', '--auth-root-authentication-method=socket', '--skip-test-db'], undefined, 120000);
    if (r.code !== 0) throw new Error(`${h.name}: mariadb-install-db failed: ${(r.stderr + r.stdout).trim().slice(-1500)}`);
  }
  const pid = startInHost(layout, h, ['/usr/sbin/mariadbd', `--defaults-file=${join(p.etc, 'my.cnf')}`], 'mariadb.log');
  const ok = await waitFor(async () => !isAlive(pid) || (await execIn(h.anchorPid, ['mysql', '-uroot', '-e', 'select 1'])).code === 0, 60000, 100);
  if (!ok || !isAlive(pid)) throw new Error(`${h.name}: mariadbd did not start; see ${join(p.root, 'fs', 'var-lib-mysql', 'mariadb.err')}`);
  return pid;
}

async function applyManagerDb(layout: LabLayout, h: HostState): Promise<void> {
  const r = await execIn(h.anchorPid, ['mysql', '-uroot'], await managerSql(layout));
  if (r.code !== 0) throw new Error(`${h.name}: cannot set up the manager database: ${r.stderr.trim()}`);
}

function etcdctlArgs(layout: LabLayout, state: LabState): string[] {
  const etcd = state.hosts.filter((h) => h.roles.includes('etcd'));
  if (layout.flavour === 'kubeadm') {
    // kubeadm's healthcheck-client of the first control-plane node, as it is now (else as up made it).
    const live = layout.hostPath(etcd[0]!, `${inKubeadm.pkiDir}/etcd`);
    const dir = existsSync(join(live, 'healthcheck-client.key')) ? live : join(layout.pristine, 'hosts', etcd[0]!.name, 'etc-kubernetes', 'pki', 'etcd');
    return [`--endpoints=${etcd.map((e) => `https://${e.address}:${inKubeadm.etcdClientPort}`).join(',')}`, `--cacert=${join(dir, 'ca.crt')}`,
      `--cert=${join(dir, 'healthcheck-client.crt')}`, `--key=${join(dir, 'healthcheck-client.key')}`, '--dial-timeout=2s', '--command-timeout=3s'];
  }
  // The first master's current cert dir (what certroll leaves there), else the original PKI.
  const live = layout.hostPath(etcd[0]!, inHost.certDir);
  const dir = existsSync(join(live, 'etcd-key.pem')) ? live : join(layout.pristine, 'srv-kubernetes');
  return [`--endpoints=${etcdEndpoints(etcd)}`, `--cacert=${join(dir, 'etcd-ca.pem')}`, `--cert=${join(dir, 'etcd.pem')}`, `--key=${join(dir, 'etcd-key.pem')}`, '--dial-timeout=2s', '--command-timeout=3s'];
}

export interface EndpointHealth {
  endpoint: string;
  health: boolean;
  error?: string;
}

export async function etcdHealth(layout: LabLayout, state: LabState): Promise<EndpointHealth[]> {
  const r = await run('etcdctl', [...etcdctlArgs(layout, state), 'endpoint', 'health', '-w', 'json'], { env: { ...hostEnv, ETCDCTL_API: '3' }, timeoutMs: 15000 });
  try {
    const parsed = JSON.parse(r.stdout) as Array<{ endpoint: string; health: boolean; error?: string }>;
    return parsed.map((e) => ({ endpoint: e.endpoint, health: e.health, error: e.error }));
  } catch {
    const port = layout.flavour === 'kubeadm' ? inKubeadm.etcdClientPort : inHost.etcdClientPort;
    return state.hosts.filter((h) => h.roles.includes('etcd')).map((h) => ({ endpoint: `https://${h.address}:${port}`, health: false, error: (r.stderr || r.stdout).trim().slice(-300) }));
  }
}

async function waitEtcdHealthy(layout: LabLayout, state: LabState, timeoutMs: number): Promise<void> {
  let last: EndpointHealth[] = [];
  const ok = await waitFor(async () => {
    last = await etcdHealth(layout, state);
    return last.length > 0 && last.every((e) => e.health);
  }, timeoutMs, 200);
  if (!ok) throw new Error(`etcd did not become healthy: ${last.map((e) => `${e.endpoint} ${e.health ? 'healthy' : e.error}`).join('; ')}`);
}

/** GET https://address:6443/healthz → status and body ('' when unreachable). */
export function apiserverHealthz(layout: LabLayout, address: string): Promise<{ status: number; body: string }> {
  const ca = readFileSync(join(layout.pristine, 'srv-kubernetes', 'ca.pem'));
  return new Promise((resolveP) => {
    const req = request({ host: address, port: inHost.apiserverPort, path: '/healthz', ca, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolveP({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolveP({ status: 0, body: '' }));
    req.end();
  });
}

/**
 * GET https://address:port/path of a kubeadm lab host → status and body ('' when unreachable): the apiserver with a client
 * certificate of the host's CA (its apiserver-kubelet-client, as it is now, else as up made it), cm/scheduler without.
 */
export function kubeadmGet(layout: LabLayout, h: LabHost, port: number, path: string): Promise<{ status: number; body: string }> {
  const pkiOf = (f: string) => {
    const live = layout.hostPath(h, `${inKubeadm.pkiDir}/${f}`);
    return existsSync(live) ? live : join(layout.pristine, 'hosts', h.name, 'etc-kubernetes', 'pki', f);
  };
  let tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
  try {
    tls = port === inKubeadm.apiserverPort
      ? { ca: readFileSync(pkiOf('ca.crt')), cert: readFileSync(pkiOf('apiserver-kubelet-client.crt')), key: readFileSync(pkiOf('apiserver-kubelet-client.key')), rejectUnauthorized: true }
      : { rejectUnauthorized: false }; // cm and scheduler serve a self-signed certificate made at their start
  } catch {
    return Promise.resolve({ status: 0, body: '' });
  }
  return new Promise((resolveP) => {
    const req = request({ host: h.address, port, path, ...tls, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolveP({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolveP({ status: 0, body: '' }));
    req.end();
  });
}

/** The control-plane endpoints of a kubeadm lab host that must answer 200: apiserver /readyz, controller-manager and scheduler /healthz. */
export const KUBEADM_HEALTH = [
  { name: 'kube-apiserver', port: inKubeadm.apiserverPort, path: '/readyz' },
  { name: 'kube-controller-manager', port: inKubeadm.controllerManagerPort, path: '/healthz' },
  { name: 'kube-scheduler', port: inKubeadm.schedulerPort, path: '/healthz' },
] as const;

async function startPods(layout: LabLayout, state: LabState): Promise<void> {
  if (layout.flavour === 'kubeadm') {
    await waitEtcdHealthy(layout, state, 60000);
    const cps = state.hosts.filter((h) => h.roles.includes('control-plane'));
    await Promise.all(cps.flatMap((m) => KUBEADM_HEALTH.map(async (e) => {
      let last = { status: 0, body: '' };
      const ok = await waitFor(async () => (last = await kubeadmGet(layout, m, e.port, e.path)).status === 200, 30000, 100);
      if (!ok) throw new Error(`${m.name}: the ${e.name} stand-in does not answer ${e.path} (${last.status} ${last.body.trim().slice(0, 200)}); see ${join(layout.hostPaths(m).log, `${e.name}.log`)}`);
    })));
    return;
  }
  const masters = state.hosts.filter((h) => h.roles.includes('master'));
  await waitEtcdHealthy(layout, state, 60000);
  await runOk('etcdctl', [...etcdctlArgs(layout, state), 'put', '/coreos.com/network/config', '{"Network":"172.16.0.0/16","SubnetLen":24,"Backend":{"Type":"vxlan"}}'], { env: { ...hostEnv, ETCDCTL_API: '3' } });
  for (const m of masters) {
    const ok = await waitFor(async () => (await apiserverHealthz(layout, m.address)).status === 200, 30000, 100);
    if (!ok) throw new Error(`${m.name}: the apiserver stand-in does not answer /healthz; see ${join(layout.hostPaths(m).log, 'tos-apiserver.log')}`);
  }
}

function knownHostsLine(layout: LabLayout, h: LabHost): string {
  const pub = readFileSync(join(layout.hostPaths(h).etc, 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/);
  const host = layout.opts.sshPort === 22 ? h.address : `[${h.address}]:${layout.opts.sshPort}`;
  return `${host} ${pub[0]} ${pub[1]}`;
}

/** Bring the lab up (idempotent). Returns its state. */
export async function up(input: Partial<LabOptions> & { namePrefix?: string }, log: Log): Promise<LabState> {
  const port = chooseSshPort(input.sshPort);
  const opts = resolveOptions({ ...input, sshPort: port.port });
  const layout = new LabLayout(opts);
  const existing = loadState(layout.dir);
  if (existing) {
    const canon = (o: LabOptions) => JSON.stringify(Object.entries({ ...o, flavour: o.flavour ?? 'tos' }).sort(([a], [b]) => a.localeCompare(b)));
    const same = canon(existing.options) === canon(opts);
    if (existing.complete && existing.hosts.every(anchorAlive)) {
      if (!same) throw new Error(`a lab with other options is already up in ${layout.dir} (${existing.hosts.length} hosts, subnet ${existing.options.subnet}): run \`npm run lab -- down\` first`);
      log(`lab already up in ${layout.dir}: ${existing.hosts.length} hosts`);
      return existing;
    }
    log(`found a lab in ${layout.dir} that is not fully up: taking it down first`);
    await down(layout.dir, log);
  }
  const t0 = Date.now();
  await ensurePackages(log);
  if (port.why) log(port.why);
  const hosts = layout.hosts();
  const probe = pLimit(32);
  const busy = (await Promise.all(hosts.map((h) => probe(async () => ((await tcpOpen(h.address, opts.sshPort, 300)) ? h : undefined))))).filter(Boolean);
  if (busy.length) {
    throw new Error(`something already listens on ${busy.map((h) => `${h!.address}:${opts.sshPort}`).slice(0, 5).join(', ')} (an sshd on 0.0.0.0:${opts.sshPort}?): stop it, or use --ssh-port / --subnet`);
  }

  await mkdir(layout.dir, { recursive: true, mode: 0o755 });
  await chmod(layout.dir, 0o755);
  const state: LabState = { version: 1, options: opts, hosts: [], createdDirs: [], complete: false, upAt: new Date().toISOString() };
  for (const d of filesOf(layout).mountpoints) {
    if (!existsSync(d)) {
      await mkdir(d, { recursive: true, mode: 0o755 });
      state.createdDirs.push(d);
    }
  }
  if (!existsSync(SSHD_PRIVSEP)) await mkdir(SSHD_PRIVSEP, { mode: 0o755 });
  await saveState(layout, state);
  let pki: Promise<void> = Promise.resolve();
  try {
    await mkdir(layout.sshDir, { recursive: true, mode: 0o700 });
    if (!existsSync(layout.clientKey)) await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'certroll-lab', '-f', layout.clientKey]);
    if (layout.flavour === 'tos' && !existsSync(layout.dbPasswordFile)) await writeFile(layout.dbPasswordFile, randomBytes(12).toString('hex') + '\n', { mode: 0o600 });
    await writeScripts(layout);
    // The PKI (CPU: RSA keys) is made while the hosts' namespaces and sshds start (waiting, mostly); the hosts' files are
    // copied from it once both are done, before any kubelet starts.
    pki = (async () => {
      if (layout.flavour === 'kubeadm') await makeKubeadmPristine(layout, hosts);
      else await makePristine(layout, hosts);
      log(`PKI and host files ready (${Date.now() - t0} ms)`);
    })();
    pki.catch(() => {}); // awaited below; this only keeps a failure from being unhandled while the hosts start

    const limit = pLimit(12);
    const started = await Promise.all(hosts.map((h) => limit(async () => {
      await prepareHost(layout, h);
      const hs: HostState = { ...h, anchorPid: await startAnchor(layout, h) };
      state.hosts.push(hs);
      hs.sshdPid = await startSshdProcess(layout, hs);
      return hs;
    })));
    state.hosts = started;
    await saveState(layout, state);
    await writeFile(layout.knownHosts, hosts.map((h) => knownHostsLine(layout, h)).join('\n') + '\n', { mode: 0o644 });
    log(`${hosts.length} hosts with sshd up (${Date.now() - t0} ms)`);
    await pki;
    await Promise.all(hosts.map((h) => limit(() => restoreHostFiles(layout, h))));

    for (const h of state.hosts) if (runsKubelet(h)) h.kubeletPid = startKubelet(layout, h);
    const manager = state.hosts.find((h) => h.roles.includes('manager'));
    await Promise.all([
      (async () => {
        if (!manager) return;
        manager.mariadbPid = await startMariadb(layout, manager);
        await applyManagerDb(layout, manager);
      })(),
      startPods(layout, state),
    ]);
    await writeFile(layout.inventory, layout.flavour === 'kubeadm' ? kubeadmInventoryYaml(layout, hosts) : inventoryYaml(layout, hosts, false));
    if (opts.extra > 0) await writeFile(layout.inventoryExtra, inventoryYaml(layout, hosts, true));
    else await rm(layout.inventoryExtra, { force: true });
    state.complete = true;
    await saveState(layout, state);
    log(`lab up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${hosts.length} hosts, inventory ${layout.inventory}`);
    return state;
  } catch (e) {
    log(`up failed: ${(e as Error).message}\ncleaning up`);
    await pki.catch(() => {});
    await saveState(layout, state).catch(() => {});
    await down(layout.dir, () => {}).catch(() => {});
    throw e;
  }
}

// ---------------------------------------------------------------- down

/** End every process in every lab host's mount namespace (found from the recorded anchor pids), remove mountpoints we made and the state dir. */
export async function down(dir: string, log: Log): Promise<void> {
  const state = loadState(dir);
  if (!state) {
    if (existsSync(dir) && existsSync(join(dir, 'hosts'))) {
      throw new Error(`${dir} has no lab.json: cannot tell which processes are the lab's; remove it by hand once nothing runs from it`);
    }
    log(`no lab in ${dir}`);
    return;
  }
  const byNs = pidsByMountNs();
  const own = mountNs(process.pid);
  // A lab host's namespace is found from its anchor, or, when the anchor is gone but the host's sshd, kubelet or
  // MariaDB lingers, from any process in another mount namespace whose command line names the lab's host dirs.
  const hostsDir = join(resolve(dir), 'hosts') + '/';
  const namespaces = new Set<string>();
  for (const h of state.hosts) {
    if (anchorAlive(h)) namespaces.add(mountNs(h.anchorPid)!);
  }
  for (const [ns, members] of byNs) {
    if (ns !== own && !namespaces.has(ns) && members.some((p) => cmdline(p).includes(hostsDir))) namespaces.add(ns);
  }
  const pids = [...namespaces].flatMap((ns) => byNs.get(ns) ?? []);
  if (pids.length) log(`ending ${pids.length} processes in ${state.hosts.length} hosts`);
  // Everything is thrown away, so no long grace: etcd members stopping together can spend seconds handing over leadership.
  await endProcesses(pids, 2000);
  const busy = mountedInOtherNamespaces(state.createdDirs);
  for (const d of [...state.createdDirs].reverse()) {
    try {
      if (existsSync(d) && readdirSync(d).length === 0 && !busy.has(d)) await rmdir(d);
    } catch {
      /* something else uses it now */
    }
  }
  await rm(dir, { recursive: true, force: true });
  log(`lab in ${dir} is down`);
}

// ---------------------------------------------------------------- sshd on/off, exec

export async function stopSshd(dir: string, host: string): Promise<void> {
  const { layout, state } = stateOf(dir);
  const h = findHost(state, host);
  if (h.sshdPid && isAlive(h.sshdPid) && mountNs(h.sshdPid) === mountNs(h.anchorPid)) {
    // sshd's connections live in sessions of their own: end the whole tree, not just the listener.
    await endProcesses(descendants(h.sshdPid), 3000);
  }
  h.sshdPid = undefined;
  await saveState(layout, state);
}

export async function startSshd(dir: string, host: string): Promise<void> {
  const { layout, state } = stateOf(dir);
  const h = findHost(state, host);
  if (h.sshdPid && isAlive(h.sshdPid)) return;
  h.sshdPid = await startSshdProcess(layout, h);
  await saveState(layout, state);
}

/** Run argv inside a host's namespaces (stdout/stderr captured). */
export async function labExec(dir: string, host: string, argv: string[], input?: string): Promise<RunResult> {
  const { state } = stateOf(dir);
  const h = findHost(state, host);
  if (!anchorAlive(h)) throw new Error(`${h.name}: its namespace anchor (pid ${h.anchorPid}) is gone: run \`npm run lab -- down\` and \`up\``);
  return execIn(h.anchorPid, argv, input);
}

// ---------------------------------------------------------------- reset

interface ContainerRecord {
  name: string;
  status: 'running' | 'exited';
  pid?: number;
}

export function containers(layout: LabLayout, h: LabHost): ContainerRecord[] {
  try {
    const c = (JSON.parse(readFileSync(join(layout.hostPaths(h).run, 'containers.json'), 'utf8')) as { containers: ContainerRecord[] }).containers;
    return c.filter((x) => x.status !== 'running' || isAlive(x.pid));
  } catch {
    return [];
  }
}

/** Put every host back exactly as up left it: original expiring PKI, manifests in place, fresh etcd cluster, manager DB and templates. */
export async function reset(dir: string, log: Log): Promise<void> {
  const t0 = Date.now();
  const { layout, state } = stateOf(dir);
  const dead = state.hosts.filter((h) => !anchorAlive(h));
  if (dead.length || !state.complete) {
    // A lab whose processes are gone (the machine rebooted, someone killed them) or whose `up` never finished is rebuilt:
    // a freshly built lab is exactly the state reset promises.
    log(`the lab in ${dir} is broken (${dead.length ? `${dead.map((h) => h.name).join(', ')}: namespace anchor gone` : 'its `up` never finished'}): rebuilding it`);
    await down(dir, log);
    await up({ ...state.options }, log);
    log(`lab reset (rebuilt) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return;
  }
  await writeScripts(layout);
  const limit = pLimit(12);
  await Promise.all(state.hosts.map((h) => limit(async () => {
    if (!h.sshdPid || !isAlive(h.sshdPid)) h.sshdPid = await startSshdProcess(layout, h);
  })));
  const podHosts = state.hosts.filter((h) => h.kubeletPid);
  for (const h of podHosts) {
    if (!isAlive(h.kubeletPid)) h.kubeletPid = startKubelet(layout, h);
  }
  // Stop every pod: empty the manifests' dir (tos: all of /opt/kubernetes); the kubelet stand-ins terminate what ran from it.
  for (const h of podHosts) {
    const ok = join(layout.hostPaths(h).root, 'fs', filesOf(layout).manifests.fs);
    for (const e of await readdir(ok).catch(() => [])) await rm(join(ok, e), { recursive: true, force: true });
  }
  // etcd members all stopping at once may spend seconds on leadership transfer; their data is wiped anyway, so after
  // 100 ms (their manifests are gone: the kubelets will not start them again): SIGKILL. Every test's reset pays this.
  const stopped = await waitFor(() => podHosts.every((h) => !containers(layout, h).some((c) => c.status === 'running')), 100, 50);
  if (!stopped) {
    await endProcesses(podHosts.flatMap((h) => containers(layout, h).filter((c) => c.status === 'running').map((c) => c.pid!)), 0);
  }
  log(`pods stopped (${Date.now() - t0} ms)`);
  await Promise.all(state.hosts.map((h) => limit(() => restoreHostFiles(layout, h, 'files'))));
  log(`files restored (${Date.now() - t0} ms)`);
  const manager = state.hosts.find((h) => h.roles.includes('manager'));
  if (manager) {
    if (!manager.mariadbPid || !isAlive(manager.mariadbPid)) manager.mariadbPid = await startMariadb(layout, manager);
    await applyManagerDb(layout, manager);
  }
  await saveState(layout, state);
  await Promise.all(state.hosts.map((h) => limit(() => restoreHostFiles(layout, h, 'manifests'))));
  await startPods(layout, state);
  log(`lab reset in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------- status

export interface HostStatus {
  name: string;
  address: string;
  roles: string[];
  anchor: { pid: number; alive: boolean };
  sshd: { pid?: number; alive: boolean; reachable: boolean };
  kubelet?: { pid?: number; alive: boolean };
  mariadb?: { pid?: number; alive: boolean; listening: boolean };
  containers: string[];
  certs: Record<string, { notAfter: string } | { missing: true }>;
}

export interface LabStatus {
  dir: string;
  up: boolean;
  hosts: HostStatus[];
  etcd: EndpointHealth[];
  apiserver: Record<string, boolean>;
  inventory: string;
}

export async function status(dir: string): Promise<LabStatus> {
  const { layout, state } = stateOf(dir);
  const limit = pLimit(32);
  const hosts = await Promise.all(state.hosts.map((h) => limit(async (): Promise<HostStatus> => {
    const certs: HostStatus['certs'] = {};
    const shown = layout.flavour === 'kubeadm'
      ? (h.roles.includes('control-plane') ? ['pki/apiserver.crt', 'pki/etcd/server.crt'] : []).map((f) => [f, `${inKubeadm.kubernetesDir}/${f}`])
      : ['etcd-ca.pem', 'etcd.pem'].map((f) => [f, `${inHost.certDir}/${f}`]);
    if (layout.flavour === 'kubeadm') shown.push(['kubelet-client-current.pem', `${inKubeadm.kubeletPkiDir}/kubelet-client-current.pem`]);
    for (const [f, path] of shown) {
      try {
        // A symlink (kubelet-client-current.pem) names its target as the host sees it: follow it through the host's mounts.
        let real = layout.hostPath(h, path!);
        if ((await lstat(real)).isSymbolicLink()) real = layout.hostPath(h, resolve(dirname(path!), await readlink(real)));
        certs[f!] = { notAfter: new Date(new X509Certificate(readFileSync(real)).validTo).toISOString() };
      } catch {
        certs[f!] = { missing: true };
      }
    }
    return {
      name: h.name,
      address: h.address,
      roles: h.roles,
      anchor: { pid: h.anchorPid, alive: anchorAlive(h) },
      sshd: { pid: h.sshdPid, alive: isAlive(h.sshdPid), reachable: await sshBanner(h.address, layout.opts.sshPort, 1000) },
      ...(h.kubeletPid ? { kubelet: { pid: h.kubeletPid, alive: isAlive(h.kubeletPid) } } : {}),
      ...(h.mariadbPid ? { mariadb: { pid: h.mariadbPid, alive: isAlive(h.mariadbPid), listening: await tcpOpen(h.address, inHost.dbPort) } } : {}),
      containers: containers(layout, h).filter((c) => c.status === 'running').map((c) => c.name),
      certs,
    };
  })));
  const etcd = await etcdHealth(layout, state);
  const apiserver: Record<string, boolean> = {};
  for (const m of state.hosts.filter((h) => h.roles.includes('master'))) apiserver[m.name] = (await apiserverHealthz(layout, m.address)).status === 200;
  for (const m of state.hosts.filter((h) => h.roles.includes('control-plane'))) {
    for (const e of KUBEADM_HEALTH) apiserver[`${m.name} ${e.name}`] = (await kubeadmGet(layout, m, e.port, e.path)).status === 200;
  }
  const upNow = state.complete && hosts.every((h) => h.anchor.alive && h.sshd.reachable) && etcd.every((e) => e.health);
  return { dir: layout.dir, up: upNow, hosts, etcd, apiserver, inventory: layout.inventory };
}

export { LabLayout, sleep };
