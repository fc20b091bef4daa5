// End to end on the lab: `certroll check` run as a real process finds the expiring CA and leaf on every host with openssl's
// dates, reports a host whose sshd is down (exit 2), refuses a changed host key, and warns about a divergent copy.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../src/check/model.js';
import { expositionProblems, promtoolCheck } from '../support/exposition.js';
import { resetLab, labExec, labSh, startSshd, stopSshd, type LabInfo } from './lab-helpers.js';

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'certroll-e2e-check-'));
const env = { ...process.env, NO_COLOR: '1', CERTROLL_HOME: work };

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function certroll(args: string[]): Promise<CliResult> {
  try {
    const r = await run('node', ['dist/cli/bin.js', ...args], { maxBuffer: 1 << 26, env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

async function checkJson(inventory: string, ...extra: string[]): Promise<{ code: number; report: CheckReport & { run: { connections: number; roundTrips: number } }; stderr: string }> {
  const r = await certroll(['check', '-i', inventory, '--json', ...extra]);
  return { code: r.code, report: JSON.parse(r.stdout), stderr: r.stderr };
}

/** Not After as `openssl x509 -enddate` prints it inside the host (independent of certroll). */
async function opensslEnddate(host: string, file: string): Promise<string> {
  const out = await labSh(host, `openssl x509 -noout -enddate -in ${file}`);
  return new Date(out.trim().replace(/^notAfter=/, '')).toISOString();
}

let lab: LabInfo;
/** The core hosts (the lab may also have extra hosts, which the core inventory does not list). */
let core: string[];

beforeAll(async () => {
  // A lab as `up` made it (expiring certificates): the file before this one in its lane may have left it renewed.
  lab = await resetLab();
  core = lab.hosts.filter((h) => !h.roles.includes('extra')).map((h) => h.name);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('certroll check on the lab', () => {
  it('finds the expiring etcd CA and leaf on every host, with the dates openssl prints, and exits 1', async () => {
    const { code, report } = await checkJson(lab.inventory);
    expect(code).toBe(1);
    expect(report.schema).toBe('certroll.check/v1');
    expect(report.summary).toMatchObject({ hosts: core.length, hostsRead: core.length, hostsFailed: 0 });
    for (const file of ['etcd-ca.pem', 'etcd.pem']) {
      const path = `${lab.certDir}/${file}`;
      const rows = report.certificates.filter((c) => c.label === path);
      expect(rows, path).toHaveLength(1);
      const row = rows[0]!;
      expect(row.hosts).toEqual(core);
      expect(row.status).toBe('expiring');
      for (const h of core) expect(await opensslEnddate(h, path)).toBe(row.notAfter);
    }
    const ca = report.certificates.find((c) => c.label === `${lab.certDir}/etcd-ca.pem`)!;
    expect(ca).toMatchObject({ isCa: true, selfIssued: true });
    // Private keys are listed as not read, and nothing of them is in the output.
    expect(report.files).toEqual(expect.arrayContaining([expect.objectContaining({ path: `${lab.certDir}/etcd-key.pem`, reason: 'private-key', detail: 'private key, not read' })]));
    const key = await labSh(core[0]!, `cat ${lab.certDir}/etcd-key.pem`);
    const keyLine = key.split('\n')[1]!;
    expect(JSON.stringify(report)).not.toContain(keyLine);
    // One connection and one round trip per host.
    expect(report.run).toMatchObject({ connections: core.length, roundTrips: core.length });
  });

  it('exits 0 with a shorter --warn-days, and prints the table with the folded rows', async () => {
    const { code } = await checkJson(lab.inventory, '--warn-days', '1');
    expect(code).toBe(0);
    const text = await certroll(['check', '-i', lab.inventory]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(new RegExp(`etcd-ca \\(CA\\)\\s+${lab.certDir}/etcd-ca.pem\\s+all ${core.length}\\s`));
    expect(text.stdout).toContain(`${core.length}/${core.length} hosts read`);
  });

  it('writes Prometheus textfile metrics with x509-certificate-exporter names, one series per host, valid for promtool', async () => {
    const out = join(work, 'certroll.prom');
    const r = await certroll(['check', '-i', lab.inventory, '--format', 'prometheus', '-o', out]);
    expect(r.code).toBe(1);
    const text = readFileSync(out, 'utf8');
    expect(expositionProblems(text)).toEqual([]);
    const promtool = promtoolCheck(text);
    if (promtool) expect(promtool).toEqual({ code: 0, output: '' });
    expect(text).toContain('# TYPE x509_cert_not_after gauge');
    for (const h of core) {
      expect(text).toContain(`certroll_check_host_up{host="${h}"} 1`);
      expect(text).toContain(`x509_read_errors{host="${h}"} 0`);
      expect(text).toMatch(new RegExp(`x509_cert_not_after\\{host="${h}",filename="etcd.pem",filepath="${lab.certDir}/etcd.pem",serial_number="\\d+",subject_CN="etcd",issuer_CN="etcd-ca"\\} \\d+`));
    }
  });

  it('reports a host whose sshd is stopped, still prints the others, and exits 2', async () => {
    const down = core[1]!;
    await stopSshd(down);
    try {
      const { code, report } = await checkJson(lab.inventory);
      expect(code).toBe(2);
      expect(report.summary).toMatchObject({ hostsRead: core.length - 1, hostsFailed: 1, exitCode: 2 });
      const failed = report.hosts.find((h) => h.name === down)!;
      expect(failed.status).toBe('failed');
      expect(failed.error?.kind).toMatch(/connect|timeout/);
      const row = report.certificates.find((c) => c.label === `${lab.certDir}/etcd.pem`)!;
      expect(row.hosts).toEqual(core.filter((h) => h !== down));
    } finally {
      await startSshd(down);
    }
  });

  it('refuses a host whose key changed (copied known_hosts with one key altered) and reads the others', async () => {
    const victim = core[2]!;
    const address = lab.addresses[victim]!;
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'impostor', '-f', join(work, 'impostor')]);
    const impostor = readFileSync(join(work, 'impostor.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    const known = readFileSync(lab.knownHostsFile, 'utf8')
      .split('\n')
      .map((l) => (l.split(' ')[0]!.split(',').some((n) => n === address || n.startsWith(`[${address}]`)) ? `${l.split(' ')[0]} ${impostor}` : l))
      .join('\n');
    expect(known).toContain(impostor);
    const knownCopy = join(work, 'known_hosts');
    writeFileSync(knownCopy, known);
    const inv = readFileSync(lab.inventory, 'utf8').replace(lab.knownHostsFile, knownCopy);
    expect(inv).toContain(knownCopy);
    const invCopy = join(work, 'inventory.yaml');
    writeFileSync(invCopy, inv);

    for (const extra of [[], ['--accept-new-host-keys']]) {
      const { code, report } = await checkJson(invCopy, ...extra);
      expect(code).toBe(2);
      const h = report.hosts.find((x) => x.name === victim)!;
      expect(h.status).toBe('failed');
      expect(h.error?.kind).toBe('host-key');
      expect(h.error?.message).toMatch(/HOST KEY CHANGED/);
      expect(report.summary.hostsRead).toBe(core.length - 1);
    }
    // The altered entry was not replaced.
    expect(readFileSync(knownCopy, 'utf8')).toBe(known);
  });

  it('warns when one host holds a different copy of etcd.pem (it missed a distribution)', async () => {
    const signer = lab.masters[0]!.name;
    const stale = core.at(-1)!;
    const path = `${lab.certDir}/etcd.pem`;
    const original = await labSh(stale, `cat ${path}`);
    const copy = await labSh(signer, `cd ${lab.certDir} && openssl x509 -x509toreq -copy_extensions copy -in etcd.pem -signkey etcd-key.pem | openssl x509 -req -CA etcd-ca.pem -CAkey etcd-ca-key.pem -set_serial 4242 -days 9 -copy_extensions copy 2>/dev/null`);
    expect(copy).toContain('BEGIN CERTIFICATE');
    const write = async (text: string) => {
      const r = await labExec(stale, ['/bin/sh', '-c', `cat > ${path}`], text);
      expect(r.code).toBe(0);
    };
    await write(copy);
    try {
      const { code, report } = await checkJson(lab.inventory);
      expect(code).toBe(1);
      expect(report.divergences).toHaveLength(1);
      const d = report.divergences[0]!;
      expect(d.label).toBe(path);
      expect(d.variants.map((v) => v.hosts)).toEqual([core.filter((h) => h !== stale), [stale]]);
      expect(d.variants[1]!.serialNumber).toBe('1092');
      const text = await certroll(['check', '-i', lab.inventory]);
      expect(text.stdout).toContain(`warning: ${path} holds 2 different certificates on different hosts`);
      expect(text.stdout).toMatch(new RegExp(`serial 1092 .* on ${stale}`));
    } finally {
      await write(original);
    }
  });
});
