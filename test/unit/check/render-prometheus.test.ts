// The Prometheus view: x509-certificate-exporter's metric names and labels for file, kubeconfig and secret certificates,
// read errors, and output that promtool (when installed) and a strict text-format check accept.
import { describe, expect, it } from 'vitest';
import type { CertFacts, CertSite, HostOutcome } from '../../../src/check/model.js';
import { buildReport } from '../../../src/check/report.js';
import { renderPrometheus, serialDecimal } from '../../../src/check/render-prometheus.js';
import { expositionProblems, promtoolCheck } from '../../support/exposition.js';

const NOW = new Date('2025-01-01T00:00:00Z');
const inDays = (d: number) => new Date(NOW.getTime() + d * 86_400_000).toISOString();

function cert(cn: string, issuerCn: string, serial: string, days: number): CertFacts {
  return {
    fingerprintSha256: `FP:${cn}:${serial}`,
    serialNumber: serial,
    subject: `O=certroll-test, CN=${cn}`,
    issuer: `CN=${issuerCn}`,
    commonName: cn,
    issuerCommonName: issuerCn,
    notBefore: inDays(-10),
    notAfter: inDays(days),
    isCa: cn === issuerCn,
    selfIssued: cn === issuerCn,
    selfSigned: cn === issuerCn,
    sans: [],
  };
}

const sites: Array<[CertSite, CertFacts]> = [
  [{ path: '/srv/kubernetes/etcd.pem', label: '/srv/kubernetes/etcd.pem' }, cert('etcd', 'etcd-ca', '1092', 20)],
  [{ path: '/etc/kubernetes/admin.conf', label: '/etc/kubernetes/admin.conf#user=kubernetes-admin', kubeconfig: { section: 'users', name: 'kubernetes-admin', field: 'client-certificate-data' } }, cert('kubernetes-admin', 'kubernetes', '7FFFFFFFFFFFFFFFFFFF', 300)],
  [{ path: '/etc/kubernetes/admin.conf', label: '/etc/kubernetes/admin.conf#cluster=kubernetes', kubeconfig: { section: 'clusters', name: 'kubernetes', field: 'certificate-authority-data' } }, cert('kubernetes', 'kubernetes', '00', 3000)],
  [{ path: 'secret:istio-system/istio-ca-secret/ca-cert.pem', label: 'secret:istio-system/istio-ca-secret/ca-cert.pem', secret: { namespace: 'istio-system', name: 'istio-ca-secret', key: 'ca-cert.pem', type: 'istio.io/ca-root' } }, cert('cluster.local', 'cluster.local', 'AB', -1)],
];

function report(): ReturnType<typeof buildReport> {
  const outcomes = new Map<string, HostOutcome>([
    ['m1', { ok: true, holdings: { host: 'm1', files: 3, certs: sites.map(([site, c]) => ({ site, cert: c })), notes: [{ path: '/srv/kubernetes/broken.pem', reason: 'unreadable', detail: 'matched but cannot be opened' }] } }],
    ['m2', { ok: true, holdings: { host: 'm2', files: 1, certs: [{ site: sites[0]![0], cert: sites[0]![1] }], notes: [] } }],
    ['m3', { ok: false, failure: { host: 'm3', kind: 'connect', message: 'connection refused' } }],
  ]);
  const r = buildReport({ hosts: [{ name: 'm1' }, { name: 'm2' }, { name: 'm3' }], outcomes, warnDays: 30, now: NOW });
  return { ...r, secrets: { host: 'm1', status: 'unavailable', values: 0, problem: 'unauthorized', reason: 'Unauthorized' } };
}

describe('renderPrometheus (x509-certificate-exporter names)', () => {
  const text = renderPrometheus(report());
  const lines = text.split('\n');

  it('writes serial numbers in decimal, as the exporter does (Go big.Int)', () => {
    expect(serialDecimal('1092')).toBe('4242');
    expect(serialDecimal('7FFFFFFFFFFFFFFFFFFF')).toBe('604462909807314587353087');
    expect(serialDecimal('00')).toBe('0');
  });

  it('labels a file certificate with filename and filepath, per host', () => {
    const l = 'filename="etcd.pem",filepath="/srv/kubernetes/etcd.pem",serial_number="4242",subject_CN="etcd",issuer_CN="etcd-ca"';
    expect(lines).toContain(`x509_cert_not_after{host="m1",${l}} ${Math.floor(Date.parse(inDays(20)) / 1000)}`);
    expect(lines).toContain(`x509_cert_not_before{host="m2",${l}} ${Math.floor(Date.parse(inDays(-10)) / 1000)}`);
    expect(lines).toContain(`x509_cert_expired{host="m2",${l}} 0`);
  });

  it('labels kubeconfig-embedded certificates with embedded_kind and embedded_key', () => {
    expect(lines).toContain(
      'x509_cert_expired{host="m1",filename="admin.conf",filepath="/etc/kubernetes/admin.conf",embedded_kind="user",embedded_key="kubernetes-admin",serial_number="604462909807314587353087",subject_CN="kubernetes-admin",issuer_CN="kubernetes"} 0',
    );
    expect(lines).toContain(
      'x509_cert_expired{host="m1",filename="admin.conf",filepath="/etc/kubernetes/admin.conf",embedded_kind="cluster",embedded_key="kubernetes",serial_number="0",subject_CN="kubernetes",issuer_CN="kubernetes"} 0',
    );
  });

  it('labels a secret certificate with secret_namespace, secret_name and secret_key (no filepath)', () => {
    expect(lines).toContain(
      'x509_cert_expired{host="m1",secret_namespace="istio-system",secret_name="istio-ca-secret",secret_key="ca-cert.pem",serial_number="171",subject_CN="cluster.local",issuer_CN="cluster.local"} 1',
    );
  });

  it('counts read errors per host: a failed host, an unreadable file, secrets not read through kubectl', () => {
    expect(lines).toContain('x509_read_errors{host="m1"} 2');
    expect(lines).toContain('x509_read_errors{host="m2"} 0');
    expect(lines).toContain('x509_read_errors{host="m3"} 1');
    expect(lines).toContain('x509_cert_error{host="m1",filename="broken.pem",filepath="/srv/kubernetes/broken.pem"} 1');
  });

  it('works with the stock alert expression: every not_after series has the same labels as its expired series', () => {
    const series = (name: string) => lines.filter((l) => l.startsWith(`${name}{`)).map((l) => l.slice(name.length, l.lastIndexOf(' ')));
    expect(series('x509_cert_not_after').sort()).toEqual(series('x509_cert_expired').sort());
    expect(series('x509_cert_not_after')).toHaveLength(5);
  });

  it('is valid text exposition (strict check)', () => {
    expect(expositionProblems(text)).toEqual([]);
    // The checker itself catches the mistakes it is there for.
    expect(expositionProblems('x 1\n')).toEqual(['line 1: sample of x before its TYPE line']);
    expect(expositionProblems('# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n')).toEqual(['line 3: duplicate series x{a="1"}']);
    expect(expositionProblems('# TYPE x gauge\nx{a="b\nc"} 1\n')).not.toEqual([]);
    expect(expositionProblems('# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx 2\n')).not.toEqual([]);
  });

  it('passes promtool check metrics (when promtool is installed: Debian package prometheus)', (ctx) => {
    const r = promtoolCheck(text);
    if (!r) ctx.skip();
    expect(r!.output).toBe('');
    expect(r!.code).toBe(0);
    // promtool does fail on broken input, so this test can fail.
    expect(promtoolCheck('# TYPE x gauge\nx{a="1} 1\n')!.code).not.toBe(0);
  });
});
