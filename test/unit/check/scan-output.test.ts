// The scan output parser and the kubeconfig reader, from recorded output: complete, cut short, damaged blocks, odd layouts.
import { describe, expect, it } from 'vitest';
import { parseScanOutput } from '../../../src/check/scan-output.js';
import { kubeconfigCerts } from '../../../src/check/kubeconfig-lines.js';

const CERT = ['-----BEGIN CERTIFICATE-----', 'MIIB', 'AAAA', '-----END CERTIFICATE-----'];

const recorded = [
  'certroll-scan 2',
  'F\t/srv/kubernetes/etcd-ca.pem',
  ...CERT.map((l) => `C\t${l}`),
  'E\t-',
  'F\t/srv/kubernetes/etcd-ca-key.pem',
  'E\tprivate-key',
  'F\t/srv/kubernetes/with tab\tname.pem',
  'C\t-----BEGIN CERTIFICATE-----',
  'C\tMIIB',
  'C\t-----TRUNCATED-----',
  ...CERT.map((l) => `C\t${l}`),
  'E\tprivate-key',
  'F\t/etc/kubernetes/admin.conf',
  'Y\tusers:',
  'Y\t- name: a',
  'Y\t    client-certificate-data: QUJD',
  'E\t-',
  'F\t/root-only.pem',
  'X\tunreadable',
  'E\t-',
  'D\t5',
  '',
].join('\n');

describe('parseScanOutput', () => {
  it('reads every record of a complete output, sorted by path', () => {
    const r = parseScanOutput(recorded);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.files.map((f) => f.path)).toEqual([
      '/etc/kubernetes/admin.conf',
      '/root-only.pem',
      '/srv/kubernetes/etcd-ca-key.pem',
      '/srv/kubernetes/etcd-ca.pem',
      '/srv/kubernetes/with tab\tname.pem',
    ]);
    const by = (p: string) => r.files.find((f) => f.path === p)!;
    expect(by('/srv/kubernetes/etcd-ca.pem')).toEqual({
      path: '/srv/kubernetes/etcd-ca.pem',
      pemBlocks: [CERT.join('\n') + '\n'],
      damagedBlocks: 0,
      kubeconfigLines: [],
      hasPrivateKey: false,
      unreadable: false,
    });
    expect(by('/srv/kubernetes/etcd-ca-key.pem')).toMatchObject({ pemBlocks: [], hasPrivateKey: true });
    expect(by('/srv/kubernetes/with tab\tname.pem')).toMatchObject({ pemBlocks: [CERT.join('\n') + '\n'], damagedBlocks: 1, hasPrivateKey: true });
    expect(by('/etc/kubernetes/admin.conf').kubeconfigLines).toEqual(['users:', '- name: a', '    client-certificate-data: QUJD']);
    expect(by('/root-only.pem')).toMatchObject({ unreadable: true, pemBlocks: [] });
  });

  it('reports output cut short by a dropped connection, keeping what arrived', () => {
    const cut = recorded.slice(0, recorded.indexOf('F\t/etc/kubernetes/admin.conf'));
    const r = parseScanOutput(cut);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problem).toMatch(/ended early/);
    expect(r.files).toHaveLength(3);
  });

  it('skips what a login shell printed before the header, and refuses output of another protocol version', () => {
    expect(parseScanOutput('Welcome to host\ncertroll-scan 2\nD\t0\n')).toEqual({ ok: true, files: [], present: [], absent: [], missing: [] });
    expect(parseScanOutput('Welcome to host\n')).toMatchObject({ ok: false, problem: expect.stringMatching(/unexpected output/) });
    expect(parseScanOutput('certroll-scan 1\nD\t0\n').ok).toBe(false);
    expect(parseScanOutput('')).toMatchObject({ ok: false });
  });

  it('notices a file count that does not match the end marker', () => {
    expect(parseScanOutput('certroll-scan 2\nF\t/a\nE\t-\nD\t2\n')).toMatchObject({ ok: false, problem: expect.stringMatching(/2 files but 1/) });
  });
});

describe('kubeconfigCerts', () => {
  it('names each user and cluster, with lists at column 0 (kubeadm) or indented', () => {
    for (const d of ['', '  ']) {
      const lines = [
        'clusters:',
        `${d}- cluster:`,
        `${d}    certificate-authority-data: Q0E=`,
        `${d}  name: prod`,
        'users:',
        `${d}- name: admin`,
        `${d}  user:`,
        `${d}    client-certificate-data: QUQ=`,
        `${d}- name: "ops"`,
        `${d}  user:`,
        `${d}    client-certificate-data: T1A=`,
      ];
      expect(kubeconfigCerts(lines)).toEqual([
        { section: 'clusters', name: 'prod', entry: 0, field: 'certificate-authority-data', base64: 'Q0E=' },
        { section: 'users', name: 'admin', entry: 0, field: 'client-certificate-data', base64: 'QUQ=' },
        { section: 'users', name: 'ops', entry: 1, field: 'client-certificate-data', base64: 'T1A=' },
      ]);
    }
  });

  it('does not take a nested list item (exec env) for a user', () => {
    const lines = ['users:', '- name: a', '  user:', '    - name: FOO', '    client-certificate-data: QQ==', '- name: b', '  user:', '    client-certificate-data: Qg=='];
    expect(kubeconfigCerts(lines).map((c) => [c.name, c.entry, c.base64])).toEqual([
      ['a', 0, 'QQ=='],
      ['b', 1, 'Qg=='],
    ]);
  });

  it('still finds the data of a JSON kubeconfig, without names', () => {
    const lines = ['    "client-certificate-data": "QUJD",', '        "certificate-authority-data": "REVG"'];
    expect(kubeconfigCerts(lines).map((c) => [c.field, c.base64])).toEqual([
      ['client-certificate-data', 'QUJD'],
      ['certificate-authority-data', 'REVG'],
    ]);
  });
});
