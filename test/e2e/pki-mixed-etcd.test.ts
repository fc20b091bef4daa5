// Mixed-state proof on a real 3-member etcd cluster with TLS: members on the renewed CA + new leaf and members still on the old ones trust each other.
// Self-contained: starts its own /usr/bin/etcd processes on loopback (CERTROLL_PKI_E2E_NET, default 127.0.77) and kills them by pid.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRenewal, etcdLeafSans, issueLeaf, parseCertificates, renewCa, requiredEtcdSans } from '../../src/pki/index.js';
import { Workdir } from '../unit/pki/fixtures.js';

const run = promisify(execFile);
const NET = process.env.CERTROLL_PKI_E2E_NET ?? '127.0.77';
const CLIENT_PORT = 4001;
const PEER_PORT = 2380;
const members = [1, 2, 3].map((n) => ({ name: `m${n}`, hostname: `m${n}`, ip: `${NET}.${n}` }));
const initialCluster = members.map((m) => `${m.name}=https://${m.ip}:${PEER_PORT}`).join(',');

let w: Workdir;
const procs = new Map<string, ChildProcess>();

function memberDir(name: string): string {
  return w.path(name);
}

/** Install a certificate set in a member's directory: `old` (the CA and leaf as TOS made them) or `new` (renewed by certroll). */
function install(name: string, set: 'old' | 'new'): void {
  const dir = memberDir(name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(w.path(`${set}-ca.pem`), join(dir, 'etcd-ca.pem'));
  copyFileSync(w.path(`${set}-etcd.pem`), join(dir, 'etcd.pem'));
  copyFileSync(w.path(`${set}-etcd-key.pem`), join(dir, 'etcd-key.pem'));
}

function tlsFlags(name: string): string[] {
  const d = memberDir(name);
  return [`--cacert=${d}/etcd-ca.pem`, `--cert=${d}/etcd.pem`, `--key=${d}/etcd-key.pem`];
}

async function assertPortFree(ip: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = createServer();
    s.once('error', (e) =>
      reject(new Error(`${ip}:${port} is not free (${(e as NodeJS.ErrnoException).code}): set CERTROLL_PKI_E2E_NET to an unused 127.x.y prefix`)),
    );
    s.listen(port, ip, () => s.close(() => resolve()));
  });
}

function start(name: string): void {
  const m = members.find((x) => x.name === name)!;
  const d = memberDir(name);
  const log = openSync(w.path(`${name}.log`), 'a');
  const child = spawn(
    '/usr/bin/etcd',
    [
      `--name=${name}`,
      `--data-dir=${w.path(`${name}.data`)}`,
      `--listen-client-urls=https://${m.ip}:${CLIENT_PORT}`,
      `--advertise-client-urls=https://${m.ip}:${CLIENT_PORT}`,
      `--listen-peer-urls=https://${m.ip}:${PEER_PORT}`,
      `--initial-advertise-peer-urls=https://${m.ip}:${PEER_PORT}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      '--initial-cluster-token=certroll-pki-e2e',
      `--cert-file=${d}/etcd.pem`,
      `--key-file=${d}/etcd-key.pem`,
      `--trusted-ca-file=${d}/etcd-ca.pem`,
      '--client-cert-auth',
      `--peer-cert-file=${d}/etcd.pem`,
      `--peer-key-file=${d}/etcd-key.pem`,
      `--peer-trusted-ca-file=${d}/etcd-ca.pem`,
      '--peer-client-cert-auth',
      '--logger=zap',
    ],
    { stdio: ['ignore', log, log] },
  );
  closeSync(log);
  procs.set(name, child);
}

async function stop(name: string): Promise<void> {
  const child = procs.get(name);
  procs.delete(name);
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function etcdctl(certsOf: string, endpoints: string[], args: string[]): Promise<string> {
  const { stdout, stderr } = await run(
    '/usr/bin/etcdctl',
    [...tlsFlags(certsOf), `--endpoints=${endpoints.join(',')}`, '--dial-timeout=3s', '--command-timeout=5s', ...args],
    { env: { ...process.env, ETCDCTL_API: '3' } },
  );
  return stdout + stderr;
}

const endpoint = (ip: string) => `https://${ip}:${CLIENT_PORT}`;
const allEndpoints = members.map((m) => endpoint(m.ip));

/** Poll until every member answers `endpoint health` with each member's own certificates, or fail with the logs' tails. */
async function waitHealthy(timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      for (const m of members) {
        const out = await etcdctl(m.name, [endpoint(m.ip)], ['endpoint', 'health']);
        if (!out.includes('is healthy')) throw new Error(out);
      }
      return;
    } catch (e) {
      last = String((e as Error).message);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  const tails = members.map((m) => `--- ${m.name}.log\n${readFileSync(w.path(`${m.name}.log`), 'utf8').split('\n').slice(-15).join('\n')}`);
  throw new Error(`etcd cluster not healthy after ${timeoutMs} ms: ${last}\n${tails.join('\n')}`);
}

/** Every member, with its own certificates: health of all three endpoints, a write through its endpoint, and every value read back through every endpoint. */
async function proveHealthyAndConsistent(round: string): Promise<void> {
  for (const m of members) {
    const health = await etcdctl(m.name, allEndpoints, ['endpoint', 'health']);
    for (const e of allEndpoints) expect(health).toMatch(new RegExp(`${e.replace(/\./g, '\\.')} is healthy`));
    expect(await etcdctl(m.name, [endpoint(m.ip)], ['put', `/certroll/${round}/${m.name}`, `written-via-${m.name}`])).toContain('OK');
  }
  for (const reader of members) {
    const out = await etcdctl(reader.name, [endpoint(reader.ip)], ['get', '--prefix', `/certroll/${round}/`, '--print-value-only']);
    expect(out.trim().split('\n').sort()).toEqual(members.map((m) => `written-via-${m.name}`));
  }
  const status = await etcdctl(members[0]!.name, allEndpoints, ['endpoint', 'status', '--write-out=json']);
  const leaders = (JSON.parse(status) as Array<{ Status: { header: { member_id: number }; leader: number } }>).filter(
    (s) => s.Status.header.member_id === s.Status.leader,
  );
  expect(leaders).toHaveLength(1);
}

describe('mixed-state trust on a real etcd cluster', () => {
  beforeAll(async () => {
    for (const m of members) {
      await assertPortFree(m.ip, CLIENT_PORT);
      await assertPortFree(m.ip, PEER_PORT);
    }
    w = new Workdir();
    // The old state, made the way TOS makes it (cfssl), with a CA that expires soon.
    w.cfsslCa('old-ca-src');
    w.cfsslLeaf('old-etcd', 'old-ca-src', [...members.map((m) => m.hostname), '127.0.0.1', '10.10.10.1', ...members.map((m) => m.ip)]);
    copyFileSync(w.path('old-ca-src.pem'), w.path('old-ca.pem'));
    // The renewal by certroll: CA renewed keeping its key, a new leaf with the union of SANs.
    const caKey = w.secret('old-ca-src-key.pem');
    const newCa = renewCa({ caCertPem: w.read('old-ca.pem'), caKeyPem: caKey });
    const oldLeaf = parseCertificates(w.read('old-etcd.pem'))[0]!;
    const leaf = await issueLeaf({
      caCertPem: newCa.certPem,
      caKeyPem: caKey,
      template: w.read('old-etcd.pem'),
      sans: etcdLeafSans({ oldSans: oldLeaf.sans, members, serviceIp: '10.10.10.1' }),
    });
    const findings = checkRenewal({
      oldCaPem: w.read('old-ca.pem'),
      newCaPem: newCa.certPem,
      oldLeafPem: w.read('old-etcd.pem'),
      newLeafPem: leaf.certPem,
      newLeafKeyPem: leaf.keyPem,
      requiredSans: requiredEtcdSans({ members, serviceIp: '10.10.10.1' }),
    });
    expect(findings.filter((f) => f.level !== 'info')).toEqual([]);
    w.write('new-ca.pem', newCa.certPem);
    w.write('new-etcd.pem', leaf.certPem);
    w.write('new-etcd-key.pem', leaf.keyPem.reveal());
    for (const m of members) install(m.name, 'old');
    for (const m of members) start(m.name);
    await waitHealthy();
  });

  afterAll(async () => {
    for (const name of [...procs.keys()]) await stop(name);
    w?.remove();
  });

  it('all members on the old certificates: healthy (baseline)', async () => {
    await proveHealthyAndConsistent('all-old');
  });

  it('one member restarted with the new CA and new leaf, two still old: healthy, writes and reads through every endpoint', async () => {
    await stop('m1');
    install('m1', 'new');
    start('m1');
    await waitHealthy();
    await proveHealthyAndConsistent('one-new');
  });

  it('two members new, one old: still healthy', async () => {
    await stop('m2');
    install('m2', 'new');
    start('m2');
    await waitHealthy();
    await proveHealthyAndConsistent('two-new');
  });

  it('all members new: healthy, and the data written in every mixed state is there', async () => {
    await stop('m3');
    install('m3', 'new');
    start('m3');
    await waitHealthy();
    await proveHealthyAndConsistent('all-new');
    const out = await etcdctl('m3', [endpoint(members[2]!.ip)], ['get', '--prefix', '/certroll/', '--keys-only']);
    expect(out.split('\n').filter(Boolean)).toHaveLength(12);
  });

  it('control: a CA regenerated with a new key (re-running cfssl -initca) is not trusted by the others', async () => {
    w.cfsslCa('foreign-ca');
    w.cfsslLeaf('foreign-etcd', 'foreign-ca', [...members.map((m) => m.hostname), '127.0.0.1', ...members.map((m) => m.ip)]);
    const dir = memberDir('m3');
    copyFileSync(w.path('foreign-ca.pem'), join(dir, 'etcd-ca.pem'));
    copyFileSync(w.path('foreign-etcd.pem'), join(dir, 'etcd.pem'));
    copyFileSync(w.path('foreign-etcd-key.pem'), join(dir, 'etcd-key.pem'));
    // m3's client certificate is refused by m1, whose CA did not sign it.
    await expect(etcdctl('m3', [endpoint(members[0]!.ip)], ['endpoint', 'health'])).rejects.toThrow(/unhealthy|deadline|certificate|bad/i);
  });
});
