// `certroll check` on the kubeadm lab: every certificate file and kubeconfig entry under kubeadm's directories, on every
// node, as openssl reads it inside that node (independently of certroll's scan), is in `--json` with that fingerprint and
// Not After, and nothing else is; `--format kubeadm` prints kubeadm's rows per control-plane node, with the dates GNU date
// makes of openssl's, `!MISSING!` exactly where the node lacks the file, and `no` where the CA key is there.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../src/check/model.js';
import { certroll, type CliResult } from '../support/cli.js';
import { kubeadmLabSh, useKubeadmLab } from './kubeadm-lab-helpers.js';

const lab = useKubeadmLab({ reset: false });
const tmp = mkdtempSync(join(tmpdir(), 'certroll-kbcheck-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * Run inside a node: `@@|LABEL|LINK TARGET` and openssl's fingerprint and notAfter for each certificate file check covers
 * by default (pki/**\/*.crt, the kubelet's *.crt and *.pem, every *.conf entry), then `E|PATH` for each kubeadm file present.
 */
const READ = String.raw`
for f in $(find /etc/kubernetes/pki -name '*.crt') /var/lib/kubelet/pki/*.crt /var/lib/kubelet/pki/*.pem; do
  [ -f "$f" ] || continue
  t=; [ -L "$f" ] && t=$(readlink -f "$f")
  echo "@@|$f|$t"; openssl x509 -noout -fingerprint -sha256 -enddate -in "$f" 2>/dev/null
done
for f in /etc/kubernetes/*.conf; do
  awk '/^[a-z-]+:/ { s = $1 } s == "clusters:" && /certificate-authority-data:/ { d = $2 } s == "clusters:" && /^  name:/ { print "cluster=" $2 " " d }
       s == "users:" && /^- name:/ { n = $3 } s == "users:" && /client-certificate-data:/ { print "user=" n " " $2 }' "$f" |
  while read -r label data; do echo "@@|$f#$label|"; printf '%s' "$data" | base64 -d | openssl x509 -noout -fingerprint -sha256 -enddate; done
done
for f in /etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf /etc/kubernetes/controller-manager.conf /etc/kubernetes/scheduler.conf \
  /etc/kubernetes/pki/ca.key /etc/kubernetes/pki/front-proxy-ca.key /etc/kubernetes/pki/etcd/ca.key; do [ -e "$f" ] && echo "E|$f"; done
true
`;

/** The script's output: one reading per file or kubeconfig entry holding one certificate, and the kubeadm files present. */
function parseReadings(out: string): { readings: Reading[]; present: Set<string> } {
  const readings: Reading[] = [];
  const present = new Set<string>();
  for (const chunk of out.split(/^(?=@@\||E\|)/m)) {
    if (chunk.startsWith('E|')) {
      present.add(chunk.slice(2).trim());
      continue;
    }
    const [head, ...rest] = chunk.split('\n');
    const [, label, link] = head!.split('|');
    const body = rest.join('\n');
    const fp = /Fingerprint=(\S+)/.exec(body);
    const na = /notAfter=(.+)/.exec(body);
    // A file openssl cannot read as a certificate (a key only) is none of check's certificates either.
    if (fp && na) readings.push({ label: label!, link: link ?? '', fingerprint: fp[1]!, notAfter: na[1]!.trim() });
  }
  return { readings, present };
}

interface Reading { label: string; link: string; fingerprint: string; notAfter: string }
const readings = new Map<string, Reading[]>();
const exists = new Map<string, Set<string>>();
let json: CliResult;
let kubeadm: CliResult;
let report: CheckReport;

beforeAll(async () => {
  // The two check runs and the four independent readings, all at once (each mostly waits on processes).
  const started = Date.now();
  const reads = lab.hosts.map(async (h) => {
    const { readings: r, present } = parseReadings(await kubeadmLabSh(h.address, READ, lab.dir));
    readings.set(h.name, r);
    exists.set(h.name, present);
  });
  [json, kubeadm] = await Promise.all([certroll(['check', '-i', lab.inventory, '--json']), certroll(['check', '-i', lab.inventory, '--format', 'kubeadm']), Promise.all(reads)]);
  report = JSON.parse(json.stdout) as CheckReport;
  process.stderr.write(`check.test.ts: check runs and openssl readings took ${Date.now() - started} ms\n`);
}, 120_000);

/** GNU date's rendering of openssl's notAfter texts in kubeadm's format (one process for all). */
function gnuDates(texts: string[]): Map<string, string> {
  const f = join(tmp, 'dates');
  writeFileSync(f, texts.join('\n') + '\n');
  const out = execFileSync('date', ['-u', '-f', f, '+%b %d, %Y %H:%M UTC'], { encoding: 'utf8' }).trim().split('\n');
  return new Map(texts.map((t, i) => [t, out[i]!]));
}

describe('check on the kubeadm lab', () => {
  it('reports every certificate on every node as openssl reads it there, and nothing else', () => {
    expect(json.code, json.stderr).toBeLessThanOrEqual(1);
    expect(report.summary).toMatchObject({ hosts: lab.hosts.length, hostsRead: lab.hosts.length, hostsFailed: 0 });
    for (const h of lab.hosts) {
      const want = readings.get(h.name)!.map((r) => `${r.label} ${r.fingerprint} ${new Date(r.notAfter).toISOString()}${r.link ? ` -> ${r.link}` : ''}`).sort();
      const got = report.certificates.filter((c) => c.hosts.includes(h.name))
        .map((c) => `${c.label} ${c.fingerprintSha256} ${new Date(c.notAfter).toISOString()}${c.linkTarget ? ` -> ${c.linkTarget}` : ''}`).sort();
      expect(got, h.name).toEqual(want);
      expect(want.length, h.name).toBeGreaterThanOrEqual(h.name === lab.workers[0]?.name ? 4 : 15);
      // The kubelet's client certificate is a link to a dated file; both are reported, the link with its target.
      expect(want.some((w) => /kubelet-client-current\.pem .* -> \/var\/lib\/kubelet\/pki\/kubelet-client-[0-9-]+\.pem$/.test(w)), h.name).toBe(true);
    }
    // kubelet.conf naming its client certificate by file (all but the old-style node) is a reference, not a problem.
    const refs = report.references ?? [];
    expect(refs.map((r) => [r.label, r.file])).toEqual([['/etc/kubernetes/kubelet.conf#user=default-auth', '/var/lib/kubelet/pki/kubelet-client-current.pem']]);
    expect(report.files.filter((f) => f.reason !== 'private-key')).toEqual([]);
  });

  it('--format kubeadm: kubeadm\'s rows on each control-plane node, dates and residual times from openssl, !MISSING! where the file is absent', () => {
    expect(kubeadm.code, kubeadm.stderr).toBe(json.code);
    const dates = gnuDates([...new Set([...readings.values()].flat().map((r) => r.notAfter))]);
    const sections = kubeadm.stdout.split(/^== /m).slice(1);
    expect(sections.map((s) => s.split(' ')[0])).toEqual(lab.controlPlane.map((h) => h.name));
    const file: Record<string, string> = {
      'admin.conf': '/etc/kubernetes/admin.conf#user=kubernetes-admin', 'super-admin.conf': '/etc/kubernetes/super-admin.conf#user=kubernetes-super-admin',
      'controller-manager.conf': '/etc/kubernetes/controller-manager.conf#user=system:kube-controller-manager', 'scheduler.conf': '/etc/kubernetes/scheduler.conf#user=system:kube-scheduler',
      apiserver: '/etc/kubernetes/pki/apiserver.crt', 'apiserver-etcd-client': '/etc/kubernetes/pki/apiserver-etcd-client.crt', 'apiserver-kubelet-client': '/etc/kubernetes/pki/apiserver-kubelet-client.crt',
      'etcd-healthcheck-client': '/etc/kubernetes/pki/etcd/healthcheck-client.crt', 'etcd-peer': '/etc/kubernetes/pki/etcd/peer.crt', 'etcd-server': '/etc/kubernetes/pki/etcd/server.crt',
      'front-proxy-client': '/etc/kubernetes/pki/front-proxy-client.crt', ca: '/etc/kubernetes/pki/ca.crt', 'etcd-ca': '/etc/kubernetes/pki/etcd/ca.crt', 'front-proxy-ca': '/etc/kubernetes/pki/front-proxy-ca.crt',
    };
    const caOf = (n: string) => (n.startsWith('etcd-') || n === 'apiserver-etcd-client' ? 'etcd-ca' : n === 'front-proxy-client' ? 'front-proxy-ca' : 'ca');
    const now = Date.parse(report.checkedAt);
    for (const s of sections) {
      const host = s.split(' ')[0]!;
      const byLabel = new Map(readings.get(host)!.map((r) => [r.label, r]));
      const lines = s.split('\n');
      const certs = lines.slice(1, lines.indexOf(''));
      const caStart = lines.indexOf('') + 2;
      const cas = lines.slice(caStart, lines.indexOf('', caStart) < 0 ? undefined : lines.indexOf('', caStart));
      expect(certs[0]).toMatch(/^CERTIFICATE +EXPIRES +RESIDUAL TIME +CERTIFICATE AUTHORITY +EXTERNALLY MANAGED$/);
      const names = ['admin.conf', 'apiserver', 'apiserver-etcd-client', 'apiserver-kubelet-client', 'controller-manager.conf', 'etcd-healthcheck-client', 'etcd-peer', 'etcd-server', 'front-proxy-client', 'scheduler.conf', 'super-admin.conf'];
      expect(certs.slice(1).map((l) => l.replace(/^!MISSING! /, '').split(/\s+/)[0]), host).toEqual(names);
      expect(cas.map((l) => l.split(/\s+/)[0]), host).toEqual(['ca', 'etcd-ca', 'front-proxy-ca']);
      const rows = [...certs.slice(1).map((l, i) => [names[i]!, l] as const), ...cas.map((l) => [l.split(/\s+/)[0]!, l] as const)];
      for (const [name, line] of rows) {
        const r = byLabel.get(file[name]!);
        if (!r) {
          // Absent on the node (super-admin.conf exists only where `kubeadm init` ran).
          expect(exists.get(host)!.has(file[name]!.split('#')[0]!), `${host} ${name}`).toBe(false);
          expect(line, `${host} ${name}`).toMatch(new RegExp(`^!MISSING! ${name.replace('.', '\\.')} +$`));
          continue;
        }
        const days = Math.floor((Date.parse(new Date(r.notAfter).toISOString()) - now) / 86_400_000);
        const residual = days >= 365 ? `${Math.floor(days / 365)}y` : `${days}d`;
        const isCa = ['ca', 'etcd-ca', 'front-proxy-ca'].includes(name);
        const key = (isCa ? file[name]! : file[caOf(name)]!).replace(/\.crt$/, '.key');
        const managed = exists.get(host)!.has(key) ? 'no' : 'yes';
        expect(line, `${host} ${name}`).toBe(
          isCa ? `${name.padEnd(24)}${dates.get(r.notAfter)!.padEnd(25)}${residual.padEnd(16)}${managed.padEnd(8)}`
            : line.slice(0, line.indexOf(dates.get(r.notAfter)!)) + `${dates.get(r.notAfter)!.padEnd(25)}${residual.padEnd(16)}${caOf(name).padEnd(24)}${managed.padEnd(8)}`,
        );
        expect(line.startsWith(`${name} `), `${host} ${name}`).toBe(true);
      }
    }
    expect(kubeadm.stdout).toMatch(new RegExp(`not in group control-plane, so kubeadm lists nothing there: ${lab.workers.map((w) => w.name).join(', ')}`));
  });
});
