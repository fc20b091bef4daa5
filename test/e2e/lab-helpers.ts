// Helpers for end-to-end tests on the local lab: bring it up, reset it, look inside a host independently of certroll.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaults, LabLayout, type LabRole } from '../../lab/src/layout.js';
import { anchorAlive, down, labExec as execInLab, loadState, reset, startSshd as start, status, stopSshd as stop, up } from '../../lab/src/lab.js';

export const LAB_DIR = process.env.CERTROLL_LAB_DIR || defaults.dir;

export interface LabHostInfo {
  name: string;
  address: string;
  roles: LabRole[];
  anchorPid: number;
}

export interface LabInfo {
  dir: string;
  /** Inventory of the five core hosts. */
  inventory: string;
  /** Inventory including the extra hosts (group `extra`), when the lab has some. */
  inventoryExtra?: string;
  identityFile: string;
  knownHostsFile: string;
  hosts: LabHostInfo[];
  masters: LabHostInfo[];
  etcd: LabHostInfo[];
  flannel: LabHostInfo[];
  manager: LabHostInfo;
  extra: LabHostInfo[];
  /** Address by host name. */
  addresses: Record<string, string>;
  db: { host: string; port: number; user: string; database: string; password: string };
  certDir: string;
  manifestsDir: string;
  parkDir: string;
  etcdEndpoints: string[];
}

const quiet = () => {};

function info(dir = LAB_DIR): LabInfo {
  const state = loadState(dir);
  if (!state) throw new Error(`no lab in ${dir}`);
  const layout = new LabLayout(state.options);
  const hosts = state.hosts.map((h) => ({ name: h.name, address: h.address, roles: h.roles, anchorPid: h.anchorPid }));
  const by = (r: LabRole) => hosts.filter((h) => h.roles.includes(r));
  const manager = by('manager')[0]!;
  return {
    dir: layout.dir,
    inventory: layout.inventory,
    inventoryExtra: state.options.extra > 0 ? layout.inventoryExtra : undefined,
    identityFile: layout.clientKey,
    knownHostsFile: layout.knownHosts,
    hosts,
    masters: by('master'),
    etcd: by('etcd'),
    flannel: by('flannel'),
    manager,
    extra: by('extra'),
    addresses: Object.fromEntries(hosts.map((h) => [h.name, h.address])),
    db: { host: manager.address, port: 3306, user: 'manager', database: 'manager', password: readFileSync(layout.dbPasswordFile, 'utf8').trim() },
    certDir: '/srv/kubernetes',
    manifestsDir: '/opt/kubernetes/manifests-multi',
    parkDir: '/opt/kubernetes',
    etcdEndpoints: by('etcd').map((h) => `https://${h.address}:4001`),
  };
}

/** The lab's description, bringing it up first when it is not up (or is broken: then it is rebuilt). */
export async function ensureLab(dir = LAB_DIR): Promise<LabInfo> {
  const state = loadState(dir);
  if (state?.complete && state.hosts.every(anchorAlive)) return info(dir);
  if (state) await down(dir, quiet);
  await up({ dir }, quiet);
  return info(dir);
}

/** Put every host back to the original expiring PKI, manifests in place, fresh healthy etcd, original manager DB and templates. */
export async function resetLab(dir = LAB_DIR): Promise<LabInfo> {
  await ensureLab(dir);
  await reset(dir, quiet);
  return info(dir);
}

/** Run argv inside a host's mount and UTS namespaces (not through sshd). */
export function labExec(host: string, argv: string[], input?: string, dir = LAB_DIR): Promise<{ stdout: string; stderr: string; code: number }> {
  return execInLab(dir, host, argv, input);
}

/** Run a shell script inside a host; rejects when it exits non-zero. */
export async function labSh(host: string, script: string, dir = LAB_DIR): Promise<string> {
  const r = await execInLab(dir, host, ['/bin/sh', '-c', script]);
  if (r.code !== 0) throw new Error(`${host}: sh -c ${JSON.stringify(script)} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Stop a host's sshd and every connection it serves (the host becomes unreachable by SSH). */
export function stopSshd(host: string, dir = LAB_DIR): Promise<void> {
  return stop(dir, host);
}

export function startSshd(host: string, dir = LAB_DIR): Promise<void> {
  return start(dir, host);
}

/** Path on the real filesystem of the file that `host` sees at absPath (through the host's bind mounts). */
export function hostPath(host: string, absPath: string, dir = LAB_DIR): string {
  const state = loadState(dir);
  if (!state) throw new Error(`no lab in ${dir}`);
  const h = state.hosts.find((x) => x.name === host || x.address === host);
  if (!h) throw new Error(`no lab host ${host}`);
  return new LabLayout(state.options).hostPath(h, absPath);
}

/** Names of the containers `docker ps` lists on a host (tos-etcd, tos-apiserver, tos-flannel). */
export async function runningContainers(host: string, dir = LAB_DIR): Promise<string[]> {
  const out = await labSh(host, 'docker ps', dir);
  return out.split('\n').slice(1).filter(Boolean).map((l) => l.trim().split(/\s+/).at(-1)!.split('_')[1]!);
}

/** etcd endpoint health as etcdctl reports it, and the apiserver stand-ins' /healthz, plus per-host processes and cert dates. */
export function labStatus(dir = LAB_DIR) {
  return status(dir);
}

/** The flanneld stand-in's log on the flannel host (one "ok …"/"FAIL …" line per second). */
export function flannelLog(dir = LAB_DIR): string {
  const i = info(dir);
  return readFileSync(join(i.dir, 'hosts', i.flannel[0]!.name, 'log', 'tos-flannel.log'), 'utf8');
}
