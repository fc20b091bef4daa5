// The plan half of refresh-kube-config (pure): which ~/.kube files are copies of the old admin.conf, and why every other
// file is left alone; plus the step's playbook fields and its line in the plan.
import { describe, expect, it } from 'vitest';
import type { KubeconfigCopiesFacts, KubeconfigFileFact, KeyCounts } from '../../../src/facts/kubeconfig-copies.js';
import { changedEarlier, planRefreshHost, refreshKubeConfig, type RefreshHostInput } from '../../../src/steps/refresh-kube-config.js';
import { describeAction, foldActions } from '../../../src/plan/describe.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { InputError } from '../../../src/errors.js';
import type { PlanContext } from '../../../src/steps/types.js';
import type { PlannedStep, Warning } from '../../../src/plan/types.js';
import type { RefreshKubeConfigStep } from '../../../src/playbook/types.js';
import type { FleetFacts } from '../../../src/facts/types.js';
import { adminConfOf } from '../../../src/facts/kubeconfig-copies.js';
import type { Host } from '../../../src/inventory/types.js';

const OLD = 'a'.repeat(64);
const EARLIER = 'b'.repeat(64);
const OTHER = 'c'.repeat(64);
const ADMIN = '/etc/kubernetes/admin.conf';
const RUN = '20261202T160000Z-abc123';
const single: KeyCounts = { anyCert: 1, blockCert: 1, servers: 1, otherCredentials: 0, names: 3 };

function file(path: string, over: Partial<KubeconfigFileFact> = {}): KubeconfigFileFact {
  return { path, kind: 'file', size: 5600, mode: 0o600, uid: 0, gid: 0, sha256: 'f'.repeat(64), certs: [{ line: 18, sha256: OLD }], counts: single, ...over };
}

function host(name: string, files: KubeconfigFileFact[], over: Partial<KubeconfigCopiesFacts> = {}): KubeconfigCopiesFacts {
  return {
    host: name,
    adminConf: { path: ADMIN, state: 'file', sha256: 'f'.repeat(64), certSha256: OLD, counts: single },
    earlier: [{ path: '/etc/kubernetes-bak-20260101T000000Z-x/admin.conf', certSha256: EARLIER }],
    homes: [
      { user: 'root', home: '/root' },
      { user: 'ops', home: '/home/ops' },
    ],
    dirs: [
      { path: '/root/.kube', exists: true },
      { path: '/home/ops/.kube', exists: true },
    ],
    files,
    ...over,
  };
}

const plan = (facts: KubeconfigCopiesFacts, over: Partial<RefreshHostInput> = {}) => planRefreshHost({ facts, adminConf: ADMIN, renewed: true, runId: RUN, ...over });

describe('refresh-kube-config: the plan for one host', () => {
  it('replaces a copy of admin.conf when this plan renews admin.conf: backup beside it, mode and owner kept', () => {
    const p = plan(host('cp-1', [file('/root/.kube/config'), file('/home/ops/.kube/config', { mode: 0o644, uid: 1000, gid: 1000, sha256: 'e'.repeat(64) })]));
    expect(p.warnings).toEqual([]);
    expect(p.notes).toEqual([]);
    expect(p.actions).toEqual([
      { kind: 'refresh-kubeconfig', host: 'cp-1', path: '/root/.kube/config', from: ADMIN, backup: `/root/.kube/config.certroll-bak-${RUN}`, sha256: 'f'.repeat(64), certSha256: OLD, mode: 0o600, uid: 0, gid: 0, matched: ADMIN },
      { kind: 'refresh-kubeconfig', host: 'cp-1', path: '/home/ops/.kube/config', from: ADMIN, backup: `/home/ops/.kube/config.certroll-bak-${RUN}`, sha256: 'e'.repeat(64), certSha256: OLD, mode: 0o644, uid: 1000, gid: 1000, matched: ADMIN },
    ]);
  });

  it('says "nothing to do" for a copy of admin.conf when nothing in the plan renews it (a second plan after a run)', () => {
    const p = plan(host('cp-1', [file('/root/.kube/config')]), { renewed: false });
    expect(p.actions).toEqual([]);
    expect(p.notes).toEqual([`cp-1: /root/.kube/config: already holds ${ADMIN}'s client certificate (nothing in this plan renews it): nothing to do`]);
  });

  it('replaces a file holding an earlier admin.conf certificate (kept in a certroll backup), renewed or not: a resumed run finds its copies so', () => {
    for (const renewed of [true, false]) {
      const p = plan(host('cp-1', [file('/root/.kube/config', { certs: [{ line: 18, sha256: EARLIER }] })]), { renewed });
      expect(p.actions).toHaveLength(1);
      expect(p.actions[0]).toMatchObject({ path: '/root/.kube/config', certSha256: EARLIER, matched: '/etc/kubernetes-bak-20260101T000000Z-x/admin.conf' });
      expect(describeAction(p.actions[0]!)).toContain(`the one of /etc/kubernetes-bak-20260101T000000Z-x/admin.conf`);
    }
  });

  it('lists every other file with the reason it is left alone', () => {
    const p = plan(
      host('cp-1', [
        file('/home/ops/.kube/jane.conf', { certs: [{ line: 18, sha256: OTHER }] }),
        file('/root/.kube/admin-link', { kind: 'link', linkTarget: ADMIN, certs: [], counts: { ...single, anyCert: 0, blockCert: 0 } }),
        file('/root/.kube/config.bak'),
        file(`/root/.kube/config.certroll-bak-${RUN}`),
        file('/root/.kube/.config.certroll-20260101T000000Z-x'),
        file('/root/.kube/huge', { kind: 'big', size: 5_000_000, certs: [] }),
        file('/home/ops/.kube/robot.conf', { certs: [], counts: { anyCert: 0, blockCert: 0, servers: 1, otherCredentials: 1, names: 3 } }),
        file('/home/ops/.kube/flow.conf', { certs: [], counts: { ...single, blockCert: 0 } }),
        file('/home/ops/.kube/broken.conf', { certs: [{ line: 18, sha256: null }] }),
        file('/home/ops/.kube/merged', { certs: [{ line: 18, sha256: OLD }, { line: 22, sha256: OTHER }], counts: { ...single, anyCert: 2, blockCert: 2, names: 5 } }),
        file('/home/ops/.kube/two-clusters', { counts: { ...single, servers: 2, names: 5 } }),
      ]),
    );
    expect(p.actions).toEqual([]);
    expect(p.notes).toEqual([
      `cp-1: /home/ops/.kube/jane.conf: holds another client certificate (${OTHER.slice(0, 16)}…): not touched`,
      `cp-1: /root/.kube/admin-link: a symbolic link to ${ADMIN} (the file it points to is what counts): not touched`,
      'cp-1: /root/.kube/config.bak: its name says it is a backup: not touched',
      `cp-1: /root/.kube/config.certroll-bak-${RUN}: left by certroll (a backup or a staged copy): not touched`,
      'cp-1: /root/.kube/.config.certroll-20260101T000000Z-x: left by certroll (a backup or a staged copy): not touched',
      'cp-1: /root/.kube/huge: over 1 MiB (5000000 bytes), not read: not touched',
      'cp-1: /home/ops/.kube/robot.conf: no embedded client certificate (a token, exec plugin or file reference): not touched',
      'cp-1: /home/ops/.kube/flow.conf: client-certificate-data written in flow style or JSON, which certroll does not read on the host; check it by hand: not touched',
      'cp-1: /home/ops/.kube/broken.conf: the client certificate at line 18 does not decode: not touched',
      `cp-1: /home/ops/.kube/merged: holds the admin certificate beside other users or clusters (5 named entries, ${ADMIN} has 3): replacing it would drop them: not touched`,
      `cp-1: /home/ops/.kube/two-clusters: holds the admin certificate beside other users or clusters (5 named entries, ${ADMIN} has 3): replacing it would drop them: not touched`,
    ]);
    expect(p.warnings.map((w) => [w.level, w.code])).toEqual([
      ['warn', 'kubeconfig-unread'],
      ['warn', 'kubeconfig-merged'],
      ['warn', 'kubeconfig-merged'],
    ]);
  });

  it('touches nothing on a host whose admin.conf is missing or unreadable, or whose scan failed, and says why', () => {
    const missing = plan(host('cp-2', [file('/root/.kube/config')], { adminConf: { path: ADMIN, state: 'missing', certSha256: null } }));
    expect(missing.actions).toEqual([]);
    expect(missing.warnings).toEqual([{ level: 'warn', code: 'admin-conf-unreadable', host: 'cp-2', message: `cp-2: ${ADMIN} does not exist: its ~/.kube copies cannot be recognised; none is refreshed there` }]);
    const noCert = plan(host('cp-2', [file('/root/.kube/config')], { adminConf: { path: ADMIN, state: 'file', certSha256: null } }));
    expect(noCert.notes).toEqual([`cp-2: ${ADMIN} holds no client certificate certroll can read: nothing refreshed on this host`]);
    const failed = plan(host('cp-2', [], { error: 'cp-2: command failed (exit 1)' }));
    expect(failed.warnings[0]).toMatchObject({ code: 'kubeconfig-scan', message: expect.stringContaining('could not be listed (cp-2: command failed (exit 1))') });
  });

  it('says which users have no account and which .kube directories hold nothing', () => {
    const p = plan(host('cp-3', [], { homes: [{ user: 'root', home: '/root' }, { user: 'ghost', home: null }], dirs: [{ path: '/root/.kube', exists: false }] }));
    expect(p.notes).toEqual(['cp-3: user ghost has no account on this host: no home searched', 'cp-3: no kubeconfig in /root/.kube (/root/.kube: absent or not a directory)']);
  });
});

describe('refresh-kube-config: the step module', () => {
  const spec: RefreshKubeConfigStep = { type: 'refresh-kube-config', targets: ['control-plane'], adminConf: ADMIN };
  const renewStep = (h: string): PlannedStep => ({ index: 3, type: 'distribute', title: 'renew-kubeconfigs', at: { file: 'p.yaml' }, hosts: [h], actions: [{ kind: 'swap', host: h, renames: [{ from: '/etc/kubernetes/.admin.conf.certroll-x', to: ADMIN, role: 'cert' }] }], notes: [] });
  function ctx(planned: PlannedStep[], facts: Partial<FleetFacts>): PlanContext & { warnings: Warning[] } {
    const warnings: Warning[] = [];
    return {
      hostsOf: () => ['cp-1', 'cp-2', 'cp-3'],
      facts: { gatheredAt: '', hosts: {}, unreachable: [], etcd: null, ...facts },
      planned,
      runId: RUN,
      warn: (w: Warning) => warnings.push(w),
      warnings,
    } as unknown as PlanContext & { warnings: Warning[] };
  }

  it('acts on a host only when an earlier step of the plan changes its admin.conf; unreachable hosts are left to their blocking warning', () => {
    const kubeconfigCopies = { 'cp-1': host('cp-1', [file('/root/.kube/config')]), 'cp-2': host('cp-2', [file('/root/.kube/config')]) };
    const c = ctx([renewStep('cp-1')], { kubeconfigCopies, unreachable: [{ host: 'cp-3', kind: 'connect', message: 'refused' }] });
    const r = refreshKubeConfig.plan(spec, c);
    expect(r.hosts).toEqual(['cp-1', 'cp-2', 'cp-3']);
    expect(r.actions.map((a) => a.host)).toEqual(['cp-1']);
    expect(r.notes).toEqual([`cp-2: /root/.kube/config: already holds ${ADMIN}'s client certificate (nothing in this plan renews it): nothing to do`]);
    const none = refreshKubeConfig.plan(spec, ctx([], { kubeconfigCopies: {} }));
    expect(none.actions).toEqual([]);
    expect(none.notes).toEqual([`no copy of the old ${ADMIN} to refresh`, 'cp-1: no kubeconfig facts gathered: nothing refreshed on this host', 'cp-2: no kubeconfig facts gathered: nothing refreshed on this host', 'cp-3: no kubeconfig facts gathered: nothing refreshed on this host']);
  });

  it("uses each host's <kubernetesDir>/admin.conf when the step names none", () => {
    const kubeconfigCopies = { 'cp-1': host('cp-1', [file('/root/.kube/config')], { adminConf: { path: '/srv/k8s/admin.conf', state: 'file', certSha256: OLD, counts: single } }) };
    const c = { ...ctx([], { kubeconfigCopies }), host: () => ({ vars: { kubernetesDir: '/srv/k8s' } }) } as unknown as PlanContext;
    const r = refreshKubeConfig.plan({ type: 'refresh-kube-config', targets: ['control-plane'] }, c);
    expect(r.notes).toContain(`cp-1: /root/.kube/config: already holds /srv/k8s/admin.conf's client certificate (nothing in this plan renews it): nothing to do`);
    const renewing: PlannedStep = { ...renewStep('cp-1'), actions: [{ kind: 'swap', host: 'cp-1', renames: [{ from: '/srv/k8s/.admin.conf.certroll-x', to: '/srv/k8s/admin.conf', role: 'cert' }] }] };
    const again = refreshKubeConfig.plan({ type: 'refresh-kube-config', targets: ['control-plane'] }, { ...ctx([renewing], { kubeconfigCopies }), host: () => ({ vars: { kubernetesDir: '/srv/k8s' } }) } as unknown as PlanContext);
    expect(again.actions).toMatchObject([{ host: 'cp-1', path: '/root/.kube/config', from: '/srv/k8s/admin.conf' }]);
  });

  it('recognises a change of admin.conf by any field of an earlier action on that host, not by read-only ones', () => {
    expect(changedEarlier([renewStep('cp-1')], 'cp-1', ADMIN)).toBe(true);
    expect(changedEarlier([renewStep('cp-1')], 'cp-2', ADMIN)).toBe(false);
    const verifyOnly: PlannedStep = { ...renewStep('cp-1'), actions: [{ kind: 'verify', host: 'cp-1', files: [{ path: ADMIN, sha256: OLD }], cluster: false }] };
    expect(changedEarlier([verifyOnly], 'cp-1', ADMIN)).toBe(false);
  });

  it('describes its action with the backup, mode and owner', () => {
    const [a] = plan(host('cp-1', [file('/root/.kube/config')])).actions;
    expect(describeAction(a!)).toBe(
      `replace /root/.kube/config (client certificate ${OLD.slice(0, 16)}…, the one ${ADMIN} holds now) with the renewed ${ADMIN}, copied on the host; first back it up to config.certroll-bak-${RUN} beside it (never over an existing one); mode 0600 owner 0:0 kept`,
    );
  });
  it('folds the same file on several hosts into one line of the plan', () => {
    const actions = ['cp-1', 'cp-2', 'cp-3'].flatMap((h) => plan(host(h, [file('/root/.kube/config', { certs: [{ line: 18, sha256: h === 'cp-3' ? EARLIER : OLD }] })])).actions);
    expect(foldActions(actions)).toEqual([{ hosts: ['cp-1', 'cp-2', 'cp-3'], text: 'replace /root/.kube/config with the renewed admin.conf (backed up beside it, mode and owner kept)' }]);
  });
});

describe('refresh-kube-config in a playbook', () => {
  const pb = (step: string) => parsePlaybook(['name: t', 'steps:', '  - type: preflight', '  - type: backup', step].join('\n'), 'kubeadm.yaml');

  it("defaults to the control-plane group and each host's <kubernetesDir>/admin.conf", () => {
    const step = pb('  - type: refresh-kube-config').steps[2] as RefreshKubeConfigStep;
    expect(step).toMatchObject({ type: 'refresh-kube-config', targets: ['control-plane'], title: 'refresh-kube-config' });
    expect(step.adminConf).toBeUndefined();
    expect(adminConfOf(step, { vars: { kubernetesDir: '/srv/k8s/' } as Host['vars'] })).toBe('/srv/k8s/admin.conf');
    expect(adminConfOf({ adminConf: '/x/admin.conf' }, { vars: { kubernetesDir: '/srv/k8s' } as Host['vars'] })).toBe('/x/admin.conf');
    expect(pb('  - { type: refresh-kube-config, targets: masters, adminConf: /srv/k8s/admin.conf }').steps[2]).toMatchObject({ targets: ['masters'], adminConf: '/srv/k8s/admin.conf' });
  });

  it('refuses a relative adminConf naming the file and line, and needs a backup step before it', () => {
    const bad = () => pb('  - type: refresh-kube-config\n    adminConf: admin.conf');
    expect(bad).toThrow(InputError);
    expect(bad).toThrow(/steps\[2\]\.adminConf: expected an absolute path, got relative path "admin.conf" \(kubeadm.yaml:6/);
    expect(() => parsePlaybook('name: t\nsteps:\n  - type: preflight\n  - type: refresh-kube-config\n', 'k.yaml')).toThrow(/no backup step/);
  });
});
