// The local lab is what it claims: real sshd per host with its own hostname and files, a healthy TLS etcd cluster driven by
// manifests, a manager DB holding the PEMs, and a reset that puts everything back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { ensureLab, flannelLog, hostPath, labExec, labSh, labStatus, resetLab, runningContainers, startSshd, stopSshd, type LabInfo } from './lab-helpers.js';

const execFileP = promisify(execFile);
let lab: LabInfo;

async function ssh(address: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileP('ssh', ['-n', '-i', lab.identityFile, '-o', `UserKnownHostsFile=${lab.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes',
      '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '-F', '/dev/null', `root@${address}`, command]);
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const etcdctl = (host: string, args: string) =>
  labSh(host, `ETCDCTL_API=3 etcdctl --cacert /srv/kubernetes/etcd-ca.pem --cert /srv/kubernetes/etcd.pem --key /srv/kubernetes/etcd-key.pem --dial-timeout 2s ${args} 2>&1`);

async function waitUntil(what: string, fn: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  lab = await resetLab((await ensureLab()).dir);
}, 300_000);

afterAll(async () => {
  await resetLab(lab.dir);
}, 120_000);

describe('the local lab', () => {
  it('each host answers OpenSSH with its own hostname and its own /srv/kubernetes (CA key only on the first master)', async () => {
    const marks: string[] = [];
    for (const h of lab.hosts.filter((x) => !x.roles.includes('extra'))) {
      const mark = `${h.name}-${Math.random().toString(36).slice(2)}`;
      writeFileSync(hostPath(h.name, '/srv/kubernetes/.lab-test-mark'), mark);
      marks.push(mark);
      const r = await ssh(h.address, 'hostname; cat /srv/kubernetes/.lab-test-mark; echo; ls /srv/kubernetes; rm /srv/kubernetes/.lab-test-mark');
      expect(r.code, r.stderr).toBe(0);
      const [hostname, seen, ...files] = r.stdout.trim().split('\n');
      expect(hostname).toBe(h.name);
      expect(seen).toBe(mark);
      expect(files).toEqual(expect.arrayContaining(['etcd-ca.pem', 'etcd.pem', 'etcd-key.pem', 'apiserver.pem', 'ca.pem', 'kubeconfig', 'token.csv', 'ssl']));
      expect(files.includes('etcd-ca-key.pem')).toBe(h.name === lab.masters[0]!.name);
    }
    expect(new Set(marks).size).toBe(5);
  });

  it('etcd files are identical everywhere, expire within weeks, and the leaf carries every etcd name and IP', async () => {
    const sums = new Set<string>();
    for (const h of lab.hosts) sums.add(await labSh(h.name, 'cd /srv/kubernetes && sha256sum etcd-ca.pem etcd.pem etcd-key.pem && stat -c %a etcd-key.pem'));
    expect(sums.size).toBe(1);
    expect([...sums][0]).toMatch(/600\n$/);
    const text = await labSh(lab.masters[0]!.name, 'openssl x509 -in /srv/kubernetes/etcd.pem -noout -text -enddate; openssl x509 -in /srv/kubernetes/etcd-ca.pem -noout -enddate; openssl verify -CAfile /srv/kubernetes/etcd-ca.pem /srv/kubernetes/etcd.pem');
    for (const h of lab.etcd) {
      expect(text).toContain(`DNS:${h.name}`);
      expect(text).toContain(`IP Address:${h.address}`);
    }
    expect(text).toContain('IP Address:127.0.0.1');
    expect(text).toContain('IP Address:10.10.10.1');
    expect(text).toContain('TLS Web Server Authentication, TLS Web Client Authentication');
    expect(text).toContain('etcd.pem: OK');
    for (const m of text.matchAll(/notAfter=(.*)/g)) {
      const days = (Date.parse(m[1]!) - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(10);
      expect(days).toBeLessThan(30);
    }
  });

  it('etcdctl endpoint health is OK on all three members with the cert dir certs, and docker ps lists etcd and apiserver', async () => {
    const out = await etcdctl(lab.masters[0]!.name, `--endpoints ${lab.etcdEndpoints.join(',')} endpoint health`);
    expect(out.match(/is healthy/g)).toHaveLength(3);
    for (const m of lab.masters) expect((await runningContainers(m.name)).sort()).toEqual(['tos-apiserver', 'tos-etcd']);
    expect(await runningContainers(lab.flannel[0]!.name)).toEqual(['tos-flannel']);
    const s = await labStatus();
    expect(s.up).toBe(true);
    expect(Object.values(s.apiserver)).toEqual([true, true, true]);
  });

  it('moving tos-etcd.manifest out stops that member (the others stay healthy) and moving it back restarts it', async () => {
    const victim = lab.masters[1]!;
    const others = lab.etcd.filter((h) => h !== victim);
    await labSh(victim.name, 'mv /opt/kubernetes/manifests-multi/tos-etcd.manifest /opt/kubernetes/');
    await waitUntil('docker ps no longer lists tos-etcd', async () => !(await labSh(victim.name, 'docker ps')).includes('tos-etcd'));
    expect(await labSh(victim.name, 'docker ps -a | grep tos-etcd')).toContain('Exited');
    expect(await labSh(victim.name, 'docker ps | grep -c tos-apiserver')).toBe('1\n');
    const healthy = await etcdctl(others[0]!.name, `--endpoints ${others.map((h) => `https://${h.address}:4001`).join(',')} endpoint health`);
    expect(healthy.match(/is healthy/g)).toHaveLength(2);
    const down = await labExec(victim.name, ['etcdctl', '--cacert', '/srv/kubernetes/etcd-ca.pem', '--cert', '/srv/kubernetes/etcd.pem', '--key', '/srv/kubernetes/etcd-key.pem', '--dial-timeout', '1s', '--command-timeout', '2s', `--endpoints=https://${victim.address}:4001`, 'endpoint', 'health']);
    expect(down.code).not.toBe(0);
    await labSh(victim.name, 'mv /opt/kubernetes/tos-etcd.manifest /opt/kubernetes/manifests-multi/');
    await waitUntil('the member is healthy again', async () => {
      const r = await labExec(victim.name, ['etcdctl', '--cacert', '/srv/kubernetes/etcd-ca.pem', '--cert', '/srv/kubernetes/etcd.pem', '--key', '/srv/kubernetes/etcd-key.pem', '--dial-timeout', '1s', `--endpoints=https://${victim.address}:4001`, 'endpoint', 'health']);
      return r.code === 0;
    });
    expect(await labSh(victim.name, 'docker ps | grep -c tos-etcd')).toBe('1\n');
  });

  it('the manager DB holds the exact PEMs (no trailing newline) and the templates hold the old CA and 87600h profiles', async () => {
    const m = lab.manager.name;
    const { stdout } = await execFileP('mysql', ['-h', lab.db.host, '-P', String(lab.db.port), '-u', lab.db.user, `-p${lab.db.password}`, lab.db.database, '-N', '-B', '-e',
      'select `key`, hex(value) from manager_info order by `key`']);
    const rows = Object.fromEntries(stdout.trim().split('\n').map((l) => l.split('\t')).map(([k, v]) => [k!, Buffer.from(v!, 'hex').toString()]));
    for (const f of ['etcd-ca.pem', 'etcd.pem', 'etcd-key.pem']) {
      const onDisk = readFileSync(hostPath(m, `/srv/kubernetes/${f}`), 'utf8');
      expect(rows[f]).toBe(onDisk.replace(/\n$/, ''));
    }
    expect(Object.keys(rows).length).toBeGreaterThan(3);
    const g = '/var/lib/transwarp-manager/master/content/meta/services/TOS/tos-2.1/templates/gencerts';
    expect(await labSh(m, `cmp ${g}/etcd-ca.pem /srv/kubernetes/etcd-ca.pem && echo same`)).toBe('same\n');
    expect(await labSh(m, `grep -c '"expiry": "87600h"' ${g}/config.json`)).not.toBe('0\n');
  });

  it('the flanneld stand-in reads etcd, and restarts on lab-flannel-restart', async () => {
    await waitUntil('flannel logged a successful read', async () => / ok https:/.test(flannelLog()));
    const f = lab.flannel[0]!.name;
    const starts = () => (flannelLog().match(/flanneld: started/g) ?? []).length;
    const n = starts();
    await labSh(f, 'lab-flannel-restart');
    await waitUntil('a new flanneld started', async () => starts() > n);
    expect(await runningContainers(f)).toEqual(['tos-flannel']);
  });

  it('stop-sshd makes a host unreachable (its open sessions end too) and start-sshd brings it back', async () => {
    const h = lab.hosts[3]!;
    const long = execFileP('ssh', ['-n', '-i', lab.identityFile, '-o', `UserKnownHostsFile=${lab.knownHostsFile}`, '-o', 'BatchMode=yes', '-F', '/dev/null', `root@${h.address}`, 'sleep 30']).then(() => 0, (e: { code: number }) => e.code);
    await new Promise((r) => setTimeout(r, 500));
    await stopSshd(h.name);
    expect((await ssh(h.address, 'true')).code).not.toBe(0);
    expect(await long).not.toBe(0);
    await startSshd(h.name);
    expect((await ssh(h.address, 'hostname')).stdout).toBe(`${h.name}\n`);
  });

  it('reset restores the original PKI, manifests, manager DB and templates exactly, and etcd is healthy again', async () => {
    const m0 = lab.masters[0]!.name;
    const snap = async () => Promise.all(lab.hosts.map((h) => labSh(h.name, 'find /srv /opt/kubernetes /var/lib/transwarp-manager -exec stat -c "%n %a %s %Y" {} + | sort; find /srv -type f -exec sha256sum {} + | sort')));
    const dbRows = () => labSh(lab.manager.name, "mysql -N -B -e 'select `key`, sha2(value, 256) from manager.manager_info order by 1; show tables from manager'");
    await resetLab(lab.dir);
    const before = await snap();
    const rowsBefore = await dbRows();
    await labSh(m0, 'cp -r /srv/kubernetes /srv/kubernetes-bak-test && echo broken > /srv/kubernetes/etcd-ca.pem && mv /opt/kubernetes/manifests-multi/tos-apiserver.manifest /opt/kubernetes/');
    await labSh(lab.manager.name, "sed -i 's/87600h/876000h/' /var/lib/transwarp-manager/master/content/meta/services/TOS/tos-2.1/templates/gencerts/config.json; mysql -e \"create table manager.manager_info_bak like manager.manager_info; update manager.manager_info set value='x' where \\`key\\`='etcd.pem'\"");
    expect(await snap()).not.toEqual(before);
    await resetLab(lab.dir);
    expect(await snap()).toEqual(before);
    expect(await dbRows()).toBe(rowsBefore);
    const out = await etcdctl(m0, `--endpoints ${lab.etcdEndpoints.join(',')} endpoint health`);
    expect(out.match(/is healthy/g)).toHaveLength(3);
    for (const m of lab.masters) expect((await runningContainers(m.name)).sort()).toEqual(['tos-apiserver', 'tos-etcd']);
  });

  it('reset rebuilds a lab whose anchors are gone while its sshd and etcd linger (as after a crash), leaving no stray process', async () => {
    // The CI machine once kept a lab.json whose processes were gone: reset refused, and every test of a file failed.
    for (const h of lab.hosts) process.kill(h.anchorPid, 'SIGKILL');
    const lingering = (await execFileP('sh', ['-c', `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '${lab.dir}/hosts/' || true`])).stdout.trim();
    expect(Number(lingering)).toBeGreaterThan(0);
    await execFileP('node', ['lab/dist/cli.js', 'reset', '--dir', lab.dir]);
    lab = await ensureLab(lab.dir);
    for (const h of lab.hosts) expect((await ssh(h.address, 'hostname')).stdout).toBe(`${h.name}\n`);
    const out = await etcdctl(lab.masters[0]!.name, `--endpoints ${lab.etcdEndpoints.join(',')} endpoint health`);
    expect(out.match(/is healthy/g)).toHaveLength(3);
    // Every process naming the lab's host dirs belongs to the rebuilt hosts: nothing of the old one is left listening.
    const stray = (await execFileP('sh', ['-c', `for p in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null); case "$c" in *'${lab.dir}/hosts/'*) echo "$(readlink $p/ns/mnt)";; esac; done | sort -u`])).stdout.trim().split('\n');
    const live = new Set(await Promise.all(lab.hosts.map(async (h) => (await execFileP('readlink', [`/proc/${h.anchorPid}/ns/mnt`])).stdout.trim())));
    const own = (await execFileP('readlink', ['/proc/self/ns/mnt'])).stdout.trim();
    expect(stray.filter((ns) => ns !== own && !live.has(ns))).toEqual([]);
  }, 120_000);
});
