// kubeadm's view of a node (src/check/kubeadm.ts): row set and order, residual time, dates, tabwriter layout, and which
// certificate each row reads, from holdings built by hand.
import { describe, expect, it } from 'vitest';
import { goTabwriter, kubeadmDate, kubeadmLayout, kubeadmNodeView, renderKubeadmTables, shortHumanDuration } from '../../../src/check/kubeadm.js';
import type { CertFacts, CertSite, HostHoldings, HostOutcome, KubeadmNodeView } from '../../../src/check/model.js';
import { buildReport } from '../../../src/check/report.js';
import { linkText, renderText } from '../../../src/check/render-text.js';
import { renderKubeadm } from '../../../src/check/render-kubeadm.js';
import { palette } from '../../../src/render/text.js';

const DAY = 86_400;
const YEAR = 365 * DAY;

describe('residual time (apimachinery duration.ShortHumanDuration)', () => {
  it.each([
    [-100, '<invalid>'],
    [-2, '<invalid>'],
    [-1, '0s'],
    [0, '0s'],
    [59, '59s'],
    [60, '1m'],
    [3599, '59m'],
    [3600, '1h'],
    [DAY - 1, '23h'],
    [DAY, '1d'],
    [354 * DAY + 3600, '354d'],
    [YEAR - 1, '364d'],
    [YEAR, '1y'],
    [10 * YEAR - 1, '9y'],
    [10 * YEAR + 3 * DAY, '10y'],
  ])('%i s → %s', (s, text) => expect(shortHumanDuration(s)).toBe(text));
});

describe('dates (Go "Jan 02, 2006 15:04 MST" in UTC)', () => {
  it('pads the day, drops the seconds without rounding', () => {
    expect(kubeadmDate('2025-02-23T09:46:59.000Z')).toBe('Feb 23, 2025 09:46 UTC');
    expect(kubeadmDate('2026-03-05T00:07:00Z')).toBe('Mar 05, 2026 00:07 UTC');
    expect(kubeadmDate('2035-12-31T23:59:59Z')).toBe('Dec 31, 2035 23:59 UTC');
  });
});

describe('row set', () => {
  const vars = { pkiDir: '/data/k8s/pki', kubernetesDir: '/data/k8s' };

  it('stacked etcd: every leaf and kubeconfig kubeadm lists, sorted by name, files under the inventory\'s directories', () => {
    const l = kubeadmLayout(vars, 'stacked');
    expect(l.certificates.map((c) => [c.name, c.file, c.caName])).toEqual([
      ['admin.conf', '/data/k8s/admin.conf', 'ca'],
      ['apiserver', '/data/k8s/pki/apiserver.crt', 'ca'],
      ['apiserver-etcd-client', '/data/k8s/pki/apiserver-etcd-client.crt', 'etcd-ca'],
      ['apiserver-kubelet-client', '/data/k8s/pki/apiserver-kubelet-client.crt', 'ca'],
      ['controller-manager.conf', '/data/k8s/controller-manager.conf', 'ca'],
      ['etcd-healthcheck-client', '/data/k8s/pki/etcd/healthcheck-client.crt', 'etcd-ca'],
      ['etcd-peer', '/data/k8s/pki/etcd/peer.crt', 'etcd-ca'],
      ['etcd-server', '/data/k8s/pki/etcd/server.crt', 'etcd-ca'],
      ['front-proxy-client', '/data/k8s/pki/front-proxy-client.crt', 'front-proxy-ca'],
      ['scheduler.conf', '/data/k8s/scheduler.conf', 'ca'],
      ['super-admin.conf', '/data/k8s/super-admin.conf', 'ca'],
    ]);
    expect(l.cas.map((c) => [c.name, c.file, c.keyFile])).toEqual([
      ['ca', '/data/k8s/pki/ca.crt', '/data/k8s/pki/ca.key'],
      ['etcd-ca', '/data/k8s/pki/etcd/ca.crt', '/data/k8s/pki/etcd/ca.key'],
      ['front-proxy-ca', '/data/k8s/pki/front-proxy-ca.crt', '/data/k8s/pki/front-proxy-ca.key'],
    ]);
    expect(l.certificates.map((c) => c.name)).not.toContain('kubelet.conf');
  });

  it('external etcd: no etcd rows and no apiserver-etcd-client (kubeadm\'s GetCertsWithoutEtcd)', () => {
    const l = kubeadmLayout(vars, 'external');
    expect(l.certificates.map((c) => c.name)).toEqual([
      'admin.conf', 'apiserver', 'apiserver-kubelet-client', 'controller-manager.conf', 'front-proxy-client', 'scheduler.conf', 'super-admin.conf',
    ]);
    expect(l.cas.map((c) => c.name)).toEqual(['ca', 'front-proxy-ca']);
  });
});

describe('tabwriter (minwidth 10, padding 3)', () => {
  it('pads every tab-terminated cell, empty ones too, leaves the last cell alone, aligns blocks separately', () => {
    expect(goTabwriter(['a\tbb\tlast', 'ccc\t\t', '', 'x\ty'])).toBe(
      ['a         bb        last', 'ccc                 ', '', 'x         y'].join('\n'),
    );
    expect(goTabwriter(['a-very-long-cell-name\tz'])).toBe('a-very-long-cell-name   z');
  });
});

const NOW = new Date('2026-12-02T15:00:00Z');
let serial = 0;
function cert(cn: string, notAfter: string, isCa = false): CertFacts {
  serial++;
  return {
    fingerprintSha256: `FP:${serial}`, serialNumber: String(serial), subject: `CN=${cn}`, issuer: 'CN=kubernetes', commonName: cn,
    issuerCommonName: 'kubernetes', notBefore: '2025-12-02T15:00:00Z', notAfter, isCa, selfIssued: isCa, selfSigned: isCa, sans: [],
  };
}
const at = (path: string, c: CertFacts, extra: Partial<CertSite> = {}) => ({ site: { path, label: path, ...extra }, cert: c });

/** A stacked control-plane node as kubeadm leaves it, under /etc/kubernetes. */
function node(): HostHoldings {
  const pki = '/etc/kubernetes/pki';
  const leaf = '2027-01-15T10:30:00Z';
  const ca = '2035-11-30T10:30:00Z';
  const certs = [
    ...['apiserver', 'apiserver-kubelet-client', 'front-proxy-client', 'apiserver-etcd-client', 'etcd/server', 'etcd/peer', 'etcd/healthcheck-client'].map((b) => at(`${pki}/${b}.crt`, cert(b, b === 'apiserver' ? '2026-12-20T08:05:00Z' : leaf))),
    ...['ca', 'front-proxy-ca', 'etcd/ca'].map((b) => at(`${pki}/${b}.crt`, cert(b, ca, true))),
    // admin.conf has two users; the current context's is kubernetes-admin (not the first one).
    at('/etc/kubernetes/admin.conf', cert('ops', '2030-01-01T00:00:00Z'), { label: '/etc/kubernetes/admin.conf#user=ops', kubeconfig: { section: 'users', name: 'ops', field: 'client-certificate-data' } }),
    at('/etc/kubernetes/admin.conf', cert('kubernetes-admin', '2026-12-10T12:00:00Z'), { label: '/etc/kubernetes/admin.conf#user=kubernetes-admin', kubeconfig: { section: 'users', name: 'kubernetes-admin', field: 'client-certificate-data' } }),
    at('/etc/kubernetes/admin.conf', cert('kubernetes', ca, true), { label: '/etc/kubernetes/admin.conf#cluster=kubernetes', kubeconfig: { section: 'clusters', name: 'kubernetes', field: 'certificate-authority-data' } }),
    at('/etc/kubernetes/scheduler.conf', cert('system:kube-scheduler', leaf), { label: '/etc/kubernetes/scheduler.conf#user=system:kube-scheduler', kubeconfig: { section: 'users', name: 'system:kube-scheduler', field: 'client-certificate-data' } }),
    at('/var/lib/kubelet/pki/kubelet-client-current.pem', cert('system:node:cp-1', '2026-12-01T00:00:00Z'), { linkTarget: '/var/lib/kubelet/pki/kubelet-client-2025-12-01.pem' }),
  ];
  return {
    host: 'cp-1',
    certs,
    notes: [{ path: '/etc/kubernetes/super-admin.conf', reason: 'no-certificate', detail: 'no certificate in this file' }],
    files: certs.length + 2,
    // controller-manager.conf names its client certificate by file (a hand-made cluster).
    references: [{ label: '/etc/kubernetes/controller-manager.conf#user=cm', kubeconfig: '/etc/kubernetes/controller-manager.conf', name: 'cm', file: '/var/lib/kubelet/pki/kubelet-client-current.pem' }],
    currentUsers: { '/etc/kubernetes/admin.conf': 'kubernetes-admin', '/etc/kubernetes/controller-manager.conf': 'cm' },
    present: [`${pki}/ca.key`, `${pki}/etcd/ca.key`],
  };
}

describe('a node\'s rows from what the scan read', () => {
  const layout = kubeadmLayout({ pkiDir: '/etc/kubernetes/pki', kubernetesDir: '/etc/kubernetes' }, 'stacked');

  it('reads each row\'s certificate: the current context\'s user, a kubeconfig\'s file, the first block of a .crt', () => {
    const v = kubeadmNodeView('cp-1', node(), layout, NOW);
    const row = (n: string) => v.certificates.find((c) => c.name === n)!;
    expect(row('admin.conf')).toMatchObject({ label: '/etc/kubernetes/admin.conf#user=kubernetes-admin', expirationDate: '2026-12-10T12:00:00Z', residualTimeSeconds: 7 * DAY + 21 * 3600, caName: 'ca', missing: false });
    expect(row('controller-manager.conf')).toMatchObject({ label: '/var/lib/kubelet/pki/kubelet-client-current.pem', residualTimeSeconds: -(DAY + 15 * 3600) });
    expect(row('apiserver')).toMatchObject({ path: '/etc/kubernetes/pki/apiserver.crt', expirationDate: '2026-12-20T08:05:00Z' });
    // Present without a certificate: kubeadm would stop there; certroll says why.
    expect(row('super-admin.conf')).toMatchObject({ missing: false, problem: '/etc/kubernetes/super-admin.conf: no certificate in this file' });
    expect(row('super-admin.conf').expirationDate).toBeUndefined();
  });

  it('marks rows whose file is absent as missing, and a CA whose key is absent (and its leaves) as externally managed', () => {
    const h = node();
    h.certs = h.certs.filter((c) => c.site.path !== '/etc/kubernetes/pki/etcd/peer.crt');
    const v = kubeadmNodeView('cp-1', h, layout, NOW);
    expect(v.certificates.find((c) => c.name === 'etcd-peer')).toEqual({ name: 'etcd-peer', path: '/etc/kubernetes/pki/etcd/peer.crt', missing: true, caName: 'etcd-ca', externallyManaged: false });
    expect(v.certificateAuthorities.map((c) => [c.name, c.externallyManaged])).toEqual([['ca', false], ['etcd-ca', false], ['front-proxy-ca', true]]);
    expect(v.certificates.filter((c) => c.externallyManaged).map((c) => c.name)).toEqual(['front-proxy-client']);
  });

  it('prints kubeadm\'s two tables byte for byte, trailing spaces included', () => {
    const h = node();
    h.certs = h.certs.filter((c) => c.site.path !== '/etc/kubernetes/pki/etcd/peer.crt' && c.site.path !== '/etc/kubernetes/pki/etcd/ca.crt');
    h.certs.push(at('/etc/kubernetes/super-admin.conf', cert('kubernetes-super-admin', '2027-01-15T10:30:00Z'), { label: '/etc/kubernetes/super-admin.conf#user=kubernetes-super-admin', kubeconfig: { section: 'users', name: 'kubernetes-super-admin', field: 'client-certificate-data' } }));
    h.notes = [];
    // Column widths: the longest cell + 3 (at least 10): 27 (apiserver-kubelet-client), 25, 16 (RESIDUAL TIME), 24.
    const text = renderKubeadmTables(kubeadmNodeView('cp-1', h, layout, NOW));
    expect(text).toBe([
      'CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED',
      'admin.conf                 Dec 10, 2026 12:00 UTC   7d              ca                      no      ',
      'apiserver                  Dec 20, 2026 08:05 UTC   17d             ca                      no      ',
      'apiserver-etcd-client      Jan 15, 2027 10:30 UTC   43d             etcd-ca                 no      ',
      'apiserver-kubelet-client   Jan 15, 2027 10:30 UTC   43d             ca                      no      ',
      'controller-manager.conf    Dec 01, 2026 00:00 UTC   <invalid>       ca                      no      ',
      'etcd-healthcheck-client    Jan 15, 2027 10:30 UTC   43d             etcd-ca                 no      ',
      '!MISSING! etcd-peer'.padEnd(27 + 25 + 16 + 24),
      'etcd-server                Jan 15, 2027 10:30 UTC   43d             etcd-ca                 no      ',
      'front-proxy-client         Jan 15, 2027 10:30 UTC   43d             front-proxy-ca          yes     ',
      'scheduler.conf             Jan 15, 2027 10:30 UTC   43d             ca                      no      ',
      'super-admin.conf           Jan 15, 2027 10:30 UTC   43d             ca                      no      ',
      '',
      'CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED',
      'ca                      Nov 30, 2035 10:30 UTC   8y              no      ',
      '!MISSING! etcd-ca'.padEnd(24 + 25 + 16),
      'front-proxy-ca          Nov 30, 2035 10:30 UTC   8y              yes     ',
    ].join('\n'));
  });

  it('a row the scan found but could not read prints as !ERROR! in the same shape as !MISSING!', () => {
    const v: KubeadmNodeView = {
      host: 'cp-1',
      etcd: 'external',
      certificates: [{ name: 'apiserver', path: '/p/apiserver.crt', missing: false, caName: 'ca', externallyManaged: false, problem: 'damaged' }],
      certificateAuthorities: [],
    };
    // Widths: 17 + 3 = 20, EXPIRES column at its minimum 10, 16, 24.
    expect(renderKubeadmTables(v).split('\n')[1]).toBe('!ERROR! apiserver'.padEnd(20 + 10 + 16 + 24));
  });
});

describe('the text views of a kubeadm fleet', () => {
  const layout = kubeadmLayout({ pkiDir: '/etc/kubernetes/pki', kubernetesDir: '/etc/kubernetes' }, 'stacked');

  it('the table shows a link with its target and the kubeconfig entries that name a file; --format kubeadm adds notes for what its tables cannot say', () => {
    const h = node();
    const outcomes = new Map<string, HostOutcome>([
      ['cp-1', { ok: true, holdings: h }],
      ['cp-2', { ok: false, failure: { host: 'cp-2', kind: 'connect', message: 'connection refused' } }],
      ['w-1', { ok: true, holdings: { host: 'w-1', certs: [], notes: [], files: 0 } }],
    ]);
    const kubeadm = [
      kubeadmNodeView('cp-1', h, layout, NOW),
      { host: 'cp-2', etcd: 'external' as const, certificates: [], certificateAuthorities: [], error: 'connection refused' },
    ];
    const r = buildReport({ hosts: [{ name: 'cp-1', address: '10.0.0.1' }, { name: 'cp-2' }, { name: 'w-1' }], outcomes, warnDays: 30, now: NOW, kubeadm });
    const table = renderText(r, palette(false));
    expect(table).toContain('/var/lib/kubelet/pki/kubelet-client-current.pem -> kubelet-client-2025-12-01.pem');
    expect(table).toMatch(/Kubeconfigs naming their client certificate by file[^\n]*\n.*KUBECONFIG ENTRY +FILE +HOSTS\n +\/etc\/kubernetes\/controller-manager\.conf#user=cm +\/var\/lib\/kubelet\/pki\/kubelet-client-current\.pem +cp-1/);
    expect(r.references).toEqual([{ label: '/etc/kubernetes/controller-manager.conf#user=cm', kubeconfig: '/etc/kubernetes/controller-manager.conf', name: 'cm', file: '/var/lib/kubelet/pki/kubelet-client-current.pem', hosts: ['cp-1'] }]);
    const text = renderKubeadm(r);
    expect(text.split('\n').slice(0, 2)).toEqual(['== cp-1 (10.0.0.1) ==', 'CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED']);
    expect(text).toContain('== cp-2 ==\nerror: not read: connection refused');
    expect(text).toContain('note: cp-1: !ERROR! super-admin.conf: /etc/kubernetes/super-admin.conf: no certificate in this file (kubeadm itself stops with an error here)');
    expect(text).toContain('note: not in group control-plane, so kubeadm lists nothing there: w-1');
    expect(text.split('\n').at(-1)).toMatch(/^2\/3 hosts read, /);
  });

  it('linkText: the target\'s name alone when it is in the link\'s directory', () => {
    expect(linkText('/var/lib/kubelet/pki/kubelet-client-current.pem', '/var/lib/kubelet/pki/kubelet-client-2026.pem')).toBe('kubelet-client-2026.pem');
    expect(linkText('/a/b.pem', '/c/d.pem')).toBe('/c/d.pem');
    expect(linkText('/a/b.pem', '/a/x/d.pem')).toBe('/a/x/d.pem');
    expect(linkText('/a/b.pem', '')).toBe('?');
  });
});
