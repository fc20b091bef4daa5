// The fleet fold and its views: one row per (path, certificate), divergence rule, exit codes, text and Prometheus output.
import { describe, expect, it } from 'vitest';
import type { CertFacts, HostOutcome } from '../../../src/check/model.js';
import { buildReport } from '../../../src/check/report.js';
import { renderText } from '../../../src/check/render-text.js';
import { escapeLabelValue, renderPrometheus } from '../../../src/check/render-prometheus.js';
import { palette } from '../../../src/render/text.js';
import { expositionProblems } from '../../support/exposition.js';

const NOW = new Date('2025-01-01T00:00:00Z');
const DAY = 86_400_000;
const inDays = (d: number) => new Date(NOW.getTime() + d * DAY).toISOString();

let serial = 0;
function cert(over: Partial<CertFacts> & { days: number }): CertFacts {
  serial++;
  const { days, ...rest } = over;
  return {
    fingerprintSha256: `FP:${serial}`,
    serialNumber: String(serial),
    subject: 'CN=etcd',
    issuer: 'CN=etcd-ca',
    commonName: 'etcd',
    issuerCommonName: 'etcd-ca',
    notBefore: inDays(-365),
    notAfter: inDays(days),
    isCa: false,
    selfIssued: false,
    sans: ['DNS:a', 'IP:127.0.0.1'],
    selfSigned: false,
    ...rest,
  };
}

/** A small fleet builder: fleet().host('a', [path, cert]…).down('c', …).report(). */
function fleet() {
  const hosts: string[] = [];
  const outcomes = new Map<string, HostOutcome>();
  const api = {
    host(name: string, ...certs: Array<[string, CertFacts]>) {
      hosts.push(name);
      outcomes.set(name, {
        ok: true,
        holdings: { host: name, files: certs.length + 1, certs: certs.map(([label, c]) => ({ site: { path: label.split('#')[0]!, label }, cert: c })), notes: [{ path: '/srv/kubernetes/etcd-key.pem', reason: 'private-key', detail: 'private key, not read' }] },
      });
      return api;
    },
    down(name: string) {
      hosts.push(name);
      outcomes.set(name, { ok: false, failure: { host: name, kind: 'connect', message: 'connection refused (127.0.0.3:22)', hint: 'is sshd running?' } });
      return api;
    },
    report(warnDays = 30) {
      return buildReport({ hosts: hosts.map((name) => ({ name })), outcomes, warnDays, now: NOW });
    },
  };
  return api;
}

describe('buildReport', () => {
  const ca = cert({ days: 3000, subject: 'CN=etcd-ca', commonName: 'etcd-ca', isCa: true, selfIssued: true, sans: [] });
  const leaf = cert({ days: 200 });

  it('folds the same certificate at the same path on many hosts into one row, listing the hosts', () => {
    const r = fleet().host('a', ['/srv/kubernetes/etcd-ca.pem', ca], ['/srv/kubernetes/etcd.pem', leaf]).host('b', ['/srv/kubernetes/etcd-ca.pem', ca], ['/srv/kubernetes/etcd.pem', leaf]).report();
    expect(r.certificates.map((c) => [c.label, c.hosts, c.status])).toEqual([
      ['/srv/kubernetes/etcd-ca.pem', ['a', 'b'], 'ok'],
      ['/srv/kubernetes/etcd.pem', ['a', 'b'], 'ok'],
    ]);
    expect(r.certificates[1]!.remainingSeconds).toBe(200 * 86_400);
    expect(r.files).toEqual([{ path: '/srv/kubernetes/etcd-key.pem', reason: 'private-key', detail: 'private key, not read', hosts: ['a', 'b'] }]);
    expect(r.summary).toMatchObject({ hosts: 2, hostsRead: 2, certificates: 2, expired: 0, expiring: 0, privateKeysNotRead: 2, exitCode: 0 });
    expect(r.divergences).toEqual([]);
  });

  it('marks expired and expiring rows and exits 1; --warn-days moves the line', () => {
    const soon = cert({ days: 10 });
    const gone = cert({ days: -1 });
    const r = fleet().host('a', ['/x/soon.pem', soon], ['/x/gone.pem', gone]).report(30);
    expect(r.certificates.map((c) => [c.label, c.status])).toEqual([
      ['/x/gone.pem', 'expired'],
      ['/x/soon.pem', 'expiring'],
    ]);
    expect(r.summary).toMatchObject({ expired: 1, expiring: 1, exitCode: 1 });
    expect(fleet().host('a', ['/x/soon.pem', soon]).report(5).summary.exitCode).toBe(0);
  });

  it('keeps reporting the hosts it read when one is down, and exits 2', () => {
    const r = fleet().host('a', ['/x/ca.pem', ca]).down('b').host('c', ['/x/ca.pem', ca]).report();
    expect(r.certificates[0]!.hosts).toEqual(['a', 'c']);
    expect(r.hosts.map((h) => [h.name, h.status])).toEqual([
      ['a', 'ok'],
      ['b', 'failed'],
      ['c', 'ok'],
    ]);
    expect(r.hosts[1]!.error).toEqual({ kind: 'connect', message: 'connection refused (127.0.0.3:22)', hint: 'is sshd running?' });
    expect(r.summary).toMatchObject({ hostsRead: 2, hostsFailed: 1, exitCode: 2 });
  });

  it('warns when a path holds an older copy of the same certificate on one host', () => {
    const old = cert({ days: 20 });
    const r = fleet().host('a', ['/srv/kubernetes/etcd.pem', leaf]).host('b', ['/srv/kubernetes/etcd.pem', leaf]).host('c', ['/srv/kubernetes/etcd.pem', old]).report();
    expect(r.divergences).toEqual([
      {
        label: '/srv/kubernetes/etcd.pem',
        path: '/srv/kubernetes/etcd.pem',
        variants: [
          { fingerprintSha256: leaf.fingerprintSha256, serialNumber: leaf.serialNumber, notBefore: leaf.notBefore, notAfter: leaf.notAfter, hosts: ['a', 'b'] },
          { fingerprintSha256: old.fingerprintSha256, serialNumber: old.serialNumber, notBefore: old.notBefore, notAfter: old.notAfter, hosts: ['c'] },
        ],
      },
    ]);
    expect(r.summary.divergentPaths).toBe(1);
  });

  it('warns for a CA copy, and for a leaf that lacks SANs the others have', () => {
    const oldCa = cert({ days: 5, subject: ca.subject, issuer: ca.issuer, isCa: true, selfIssued: true, sans: [] });
    const fewer = cert({ days: 100, sans: ['DNS:a'] });
    const r = fleet().host('a', ['/ca.pem', ca], ['/leaf.pem', leaf]).host('b', ['/ca.pem', oldCa], ['/leaf.pem', fewer]).report();
    expect(r.divergences.map((d) => d.label)).toEqual(['/ca.pem', '/leaf.pem']);
  });

  it('leaves per-node certificates alone: other subjects, SANs naming each node, client certificates without SANs', () => {
    const kubelet1 = cert({ days: 300, subject: 'CN=system:node:a', sans: [] });
    const kubelet2 = cert({ days: 300, subject: 'CN=system:node:b', sans: [] });
    const api1 = cert({ days: 300, subject: 'CN=kube-apiserver', sans: ['DNS:kubernetes', 'IP:10.0.0.1'] });
    const api2 = cert({ days: 300, subject: 'CN=kube-apiserver', sans: ['DNS:kubernetes', 'IP:10.0.0.2'] });
    const admin1 = cert({ days: 300, subject: 'CN=kubernetes-admin', sans: [] });
    const admin2 = cert({ days: 300, subject: 'CN=kubernetes-admin', sans: [] });
    const r = fleet()
      .host('a', ['/var/lib/kubelet/pki/kubelet.crt', kubelet1], ['/etc/kubernetes/pki/apiserver.crt', api1], ['/etc/kubernetes/admin.conf#user=kubernetes-admin', admin1])
      .host('b', ['/var/lib/kubelet/pki/kubelet.crt', kubelet2], ['/etc/kubernetes/pki/apiserver.crt', api2], ['/etc/kubernetes/admin.conf#user=kubernetes-admin', admin2])
      .report();
    expect(r.divergences).toEqual([]);
    expect(r.certificates).toHaveLength(6);
  });
});

describe('renderText', () => {
  const soon = cert({ days: 3, commonName: 'etcd', sans: ['DNS:a', 'DNS:b', 'IP:1.2.3.4'] });
  const r = fleet().host('tos-1', ['/srv/kubernetes/etcd.pem', soon]).host('tos-2', ['/srv/kubernetes/etcd.pem', soon]).down('tos-3').report();

  it('prints a kubeadm-like table, the notes, the host errors and a summary', () => {
    const text = renderText(r, palette(false));
    expect(text.split('\n').slice(0, 2)).toEqual([
      'CERTIFICATE  PATH                      HOSTS  NOT AFTER             RESIDUAL TIME  ISSUER   SANS',
      'etcd         /srv/kubernetes/etcd.pem  all 2  2025-01-04 00:00 UTC          3d 0h  etcd-ca     3',
    ]);
    expect(text).toContain('/srv/kubernetes/etcd-key.pem  all 2  private key, not read');
    expect(text).toContain('error: tos-3: connection refused (127.0.0.3:22)\n  → is sshd running?');
    expect(text).toMatch(/2\/3 hosts read, 1 certificate row, 0 expired, 1 expiring within 30 days, 1 host not read$/);
    expect(text).not.toContain('\x1b[');
  });

  it('paints expiring rows when colours are on', () => {
    expect(renderText(r, palette(true))).toContain('\x1b[33m2025-01-04 00:00 UTC\x1b[39m');
  });
});

describe('renderText at fleet size', () => {
  const ca = cert({ days: 300, subject: 'CN=etcd-ca', commonName: 'etcd-ca', isCa: true, selfIssued: true, sans: [] });
  const older = { ...ca, fingerprintSha256: 'FP:older', serialNumber: 'older', notAfter: inDays(20) };
  const names = Array.from({ length: 205 }, (_, i) => `x${i + 1}`);
  function big(opts: { down?: number } = {}) {
    const f = fleet();
    names.forEach((n, i) => {
      if (opts.down && i >= names.length - opts.down) f.down(n);
      else f.host(n, ['/srv/kubernetes/etcd-ca.pem', i < 200 ? ca : older]);
    });
    return f.report();
  }

  it('folds a divergence host list into ranges and counts, and --wide lists every name', () => {
    const r = big();
    expect(r.divergences).toHaveLength(1);
    const text = renderText(r, palette(false));
    expect(text).toContain('on 200 of 205: x1–x200');
    expect(text).toContain('on 5 of 205: x201–x205');
    expect(text).not.toContain('x17,');
    expect(text).toContain('(--wide or --json lists every host)');
    expect(text.split('\n').every((l) => l.length < 160)).toBe(true);
    const wide = renderText(r, palette(false), { wide: true });
    expect(wide).toContain(`on ${names.slice(0, 200).join(', ')}`);
    expect(wide).not.toContain('--wide');
  });

  it('prints many hosts failing the same way once, with their hosts folded', () => {
    const r = big({ down: 100 });
    const text = renderText(r, palette(false));
    const errors = text.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toEqual(['error: 100 hosts not read (100 of 205: x106–x205): connection refused (127.0.0.3:22)']);
    expect(renderText(r, palette(false), { wide: true }).split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(100);
  });

  it('keeps a short list as names: no folding, no hint', () => {
    const text = renderText(fleet().host('tos-1', ['/p.pem', ca]).host('tos-2', ['/p.pem', older]).report(), palette(false));
    expect(text).toContain('on tos-1\n');
    expect(text).not.toContain('--wide');
  });
});

describe('renderPrometheus', () => {
  it('escapes backslash, double quote and line feed in label values', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });

  it('writes HELP and TYPE once per family, x509-certificate-exporter series per host and certificate, and host_up for every host', () => {
    const odd = cert({ days: -2, subject: 'O=x, CN=we"ird\\name\nx', commonName: 'we"ird\\name\nx', issuer: 'CN=etcd-ca', serialNumber: '0F' });
    const text = renderPrometheus(fleet().host('a', ['/x/odd.pem', odd]).host('b', ['/x/odd.pem', odd]).down('c').report());
    expect(expositionProblems(text)).toEqual([]);
    const lines = text.trimEnd().split('\n');
    const families = lines.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
    expect(new Set(families).size).toBe(families.length);
    const notAfter = Math.floor(Date.parse(odd.notAfter) / 1000);
    const labels = 'filename="odd.pem",filepath="/x/odd.pem",serial_number="15",subject_CN="we\\"ird\\\\name\\nx",issuer_CN="etcd-ca"';
    expect(lines).toContain(`x509_cert_not_after{host="a",${labels}} ${notAfter}`);
    expect(lines).toContain(`x509_cert_expired{host="b",${labels}} 1`);
    expect(lines).toEqual(expect.arrayContaining(['certroll_check_host_up{host="a"} 1', 'certroll_check_host_up{host="c"} 0']));
    // The host that could not be read is an x509_read_errors series; the others have 0.
    expect(lines).toEqual(expect.arrayContaining(['x509_read_errors{host="a"} 0', 'x509_read_errors{host="c"} 1']));
    expect(lines).toContain('# TYPE x509_cert_not_after gauge');
    expect(lines).toContain(`certroll_check_timestamp_seconds ${NOW.getTime() / 1000}`);
    // The old certroll_cert_* names are gone (docs/check.md maps them).
    expect(text).not.toContain('certroll_cert_');
  });
});
