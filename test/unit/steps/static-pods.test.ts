// The kubeadm half of the rolling restart: its plan half (units, order, park dir, playbook shape) as pure functions, and its
// apply half with the real shell against a temporary manifests dir, a crictl stand-in that gives every start a new
// container id, and an etcdctl stand-in: one pod at a time, a new container id awaited, a pod that does not come back
// stops the node with a message naming it. The served-certificate check's parser and verdict on recorded openssl output.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalRemote } from '../../support/local-remote.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { hostScope } from '../../../src/inventory/targets.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { InputError, SafetyStop } from '../../../src/errors.js';
import type { Plan } from '../../../src/plan/types.js';
import type { ApplyContext } from '../../../src/steps/types.js';
import type { RollingRestartStep } from '../../../src/playbook/types.js';
import { checksAfterOf, parkDirProblem, planRestartOrder, restartActionFor, restartOne, restartUnits } from '../../../src/steps/rolling-restart.js';
import { parseServedCheck, servedCheckScript, servedProblems } from '../../../src/steps/served-check.js';
import { parkMarkerOf } from '../../../src/host-paths.js';

const top = mkdtempSync(join(tmpdir(), 'certroll-pods-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));
const manifestsDir = join(top, 'etc', 'kubernetes', 'manifests');
const parkDir = join(top, 'etc', 'kubernetes', 'certroll-parked');
const binDir = join(top, 'bin');
const state = join(top, 'containers');
const RUN = '20261202T160000Z-pods01';
const PODS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];

const inventory = parseInventory(
  [
    `vars: { certDir: ${join(top, 'etc', 'kubernetes')}, manifestsDir: ${manifestsDir}, parkDir: ${parkDir}, etcdClientPort: 2379 }`,
    'ssh: { identityFile: /tmp/id, knownHostsFile: /tmp/kh }',
    'hosts:',
    '  cp1: { address: 127.0.0.1 }',
    'groups: { master: [cp1], etcd: [cp1] }',
  ].join('\n'),
  'static-pods.yaml',
);

const playbookText = (extra: string[] = [], podsYaml?: string[]) =>
  [
    'name: static-pods',
    `etcdctl: [${binDir}/etcdctl]`,
    'steps:',
    '  - type: preflight',
    '  - type: backup',
    '  - type: rolling-restart',
    '    targets: etcd',
    '    when: always',
    '    pauseSeconds: 0',
    '    stopTimeoutSeconds: 2',
    '    healthTimeoutSeconds: 3',
    `    containerIds: [${binDir}/crictl, ps, -q, --name]`,
    ...extra,
    '    pods:',
    ...(podsYaml ?? [
      '      - { manifest: etcd.yaml, container: etcd, health: etcd }',
      `      - { manifest: kube-apiserver.yaml, container: kube-apiserver, health: [[test, -e, ${top}/api-ok]] }`,
      '      - { manifest: kube-controller-manager.yaml, container: kube-controller-manager, health: [["true"]] }',
      '      - { manifest: kube-scheduler.yaml, container: kube-scheduler, health: [["true"], [sh, -c, "exit 0"]] }',
    ]),
  ].join('\n');
const specOf = (text = playbookText()) => parsePlaybook(text, 'static-pods-playbook.yaml').steps.find((s) => s.type === 'rolling-restart') as RollingRestartStep;

let remote: LocalRemote;
let intents: string[];

beforeEach(() => {
  rmSync(top, { recursive: true, force: true });
  mkdirSync(manifestsDir, { recursive: true });
  mkdirSync(binDir, { recursive: true });
  mkdirSync(state, { recursive: true });
  for (const p of PODS) writeFileSync(join(manifestsDir, `${p}.yaml`), `kind: Pod\nmetadata: { name: ${p} }\n`);
  writeFileSync(join(top, 'api-ok'), '');
  // crictl stand-in (a kubelet in one): a pod runs while its manifest is in place; each start gets a new id. A pod listed in
  // $top/crash restarts on every look (a new id each time), like a process that exits at start.
  writeFileSync(
    join(binDir, 'crictl'),
    `#!/bin/sh
name=; prev=; for a in "$@"; do [ "$prev" = --name ] && name=$a; prev=$a; done
n=\${name#^}; n=\${n%$}
if [ -f ${manifestsDir}/$n.yaml ]; then
  if [ ! -f ${state}/$n ] || grep -qx "$n" ${top}/crash 2>/dev/null; then od -An -N8 -tx1 /dev/urandom | tr -d ' \\n' > ${state}/$n; fi
  cat ${state}/$n; echo
else rm -f ${state}/$n; fi
`,
    { mode: 0o755 },
  );
  writeFileSync(
    join(binDir, 'etcdctl'),
    `#!/bin/sh
eps=; for a in "$@"; do case "$prev" in --endpoints) eps=$a ;; esac; prev=$a; done
[ -f ${manifestsDir}/etcd.yaml ] || { echo '[{"endpoint":"'$eps'","health":false,"error":"down"}]'; exit 1; }
case " $* " in
  *" endpoint health "*) printf '[{"endpoint":"%s","health":true}]\\n' "$eps" ;;
  *" endpoint status "*) printf '[{"Endpoint":"%s","Status":{"header":{"member_id":1},"leader":1,"raftIndex":7,"raftTerm":2,"version":"3.5"}}]\\n' "$eps" ;;
  *) exit 1 ;;
esac
`,
    { mode: 0o755 },
  );
  remote = new LocalRemote('cp1');
  intents = [];
});

function context(text = playbookText()): ApplyContext {
  const playbook = parsePlaybook(text, 'static-pods-playbook.yaml');
  return {
    plan: { runId: RUN, createdAt: new Date().toISOString(), steps: [] } as unknown as Plan,
    inventory,
    playbook,
    material: null,
    remotes: new Map([['cp1', remote]]),
    remote: () => remote,
    scope: (n) => hostScope(inventory, playbook, n),
    runId: RUN,
    facts: { gatheredAt: new Date().toISOString(), hosts: {}, unreachable: [], etcd: null },
    options: { breakLock: false, controlHost: 'test-control', user: 'tester', onFailure: 'stop' },
    signal: new AbortController().signal,
    journalIntent: async (e) => void intents.push(`${e.event} ${e.message ?? ''}`),
    locked: new Set(),
  };
}

describe('the plan half: units, order, park dir, playbook shape', () => {
  it('TOS is one unit (every manifest at once, names in docker ps); pods are one unit each, in order, listed by id', () => {
    const tos = parsePlaybook(['name: t', 'steps:', '  - type: preflight', '  - type: backup', '  - type: distribute', '  - type: rolling-restart'].join('\n'), 't.yaml').steps[3] as RollingRestartStep;
    expect(restartUnits(tos)).toEqual([{ label: 'tos-etcd.manifest, tos-apiserver.manifest', manifests: ['tos-etcd.manifest', 'tos-apiserver.manifest'], names: ['tos-etcd', 'tos-apiserver'], mode: 'names', check: ['docker', 'ps'], etcd: true, checks: [] }]);
    const units = restartUnits(specOf());
    expect(units.map((u) => [u.label, u.manifests, u.mode, u.etcd, u.check.at(-1)])).toEqual(PODS.map((p) => [p, [`${p}.yaml`], 'ids', p === 'etcd', `^${p}$`]));
    expect(units[3]!.checks).toEqual([['true'], ['sh', '-c', 'exit 0']]);
    expect(specOf().manifests).toEqual(PODS.map((p) => `${p}.yaml`));
    expect(checksAfterOf(specOf())[0]).toBe('etcd: a new container running, etcd member healthy with the new certificates, raft index within 50 of the leader');
  });
  it('order: nodes a dead run left parked first, the etcd leader\'s node last, nodes already restarted left out', () => {
    const parked = new Set(['n3']);
    expect(planRestartOrder(['n1', 'n2', 'n3', 'n4'], 'n2', (h) => parked.has(h))).toEqual(['n3', 'n1', 'n4', 'n2']);
    expect(planRestartOrder(['n1', 'n2', 'n3'], 'n1', () => false, new Set(['n2']))).toEqual(['n3', 'n1']);
    expect(planRestartOrder(['n1', 'n2'], undefined, () => false)).toEqual(['n1', 'n2']);
  });
  it('the park dir may be neither inside the manifests dir nor under /tmp', () => {
    expect(parkDirProblem('/etc/kubernetes/manifests', '/etc/kubernetes/certroll-parked')).toBeUndefined();
    expect(parkDirProblem('/etc/kubernetes/manifests', '/etc/kubernetes/manifests/parked')).toMatch(/inside the manifests dir/);
    expect(parkDirProblem('/etc/kubernetes/manifests/', '/etc/kubernetes/manifests')).toMatch(/inside the manifests dir/);
    expect(parkDirProblem('/etc/kubernetes/manifests', '/tmp/parked')).toMatch(/temporary directory/);
  });
  it('a playbook with pods refuses the TOS fields, a pod listed twice, a bad health; without a renewing step it needs when: always', () => {
    const errors = (text: string) => {
      try {
        parsePlaybook(text, 'p.yaml');
        return [];
      } catch (e) {
        return (e as InputError).issues.map((i) => `${i.path}: ${i.message}`);
      }
    };
    expect(errors(playbookText(['    manifests: [etcd.yaml]']))).toEqual([expect.stringMatching(/^steps\[2\]\.manifests: manifests is for a rolling restart without pods/)]);
    expect(errors(playbookText([], ['      - { manifest: etcd.yaml, container: etcd, health: etcd }', '      - { manifest: etcd.yaml, container: etcd2, health: etcd }']))).toEqual([expect.stringMatching(/pods\[1\]\.manifest: etcd\.yaml is restarted twice/)]);
    expect(errors(playbookText([], ['      - { manifest: etcd.yaml, container: etcd, health: healthy }']))).toEqual([expect.stringMatching(/health: expected "etcd" or a list of commands/)]);
    expect(errors(playbookText().replace('    when: always\n', ''))).toEqual([expect.stringMatching(/restarts the static pods but no earlier step writes new certificates/)]);
  });
});

describe('the apply half: one pod at a time, with the real shell', () => {
  it('parks and puts back each pod in order, each comes back with a new container id and healthy; no marker, nothing left parked', async () => {
    const ctx = context();
    const spec = specOf();
    const said: string[] = [];
    const t0 = Date.now();
    const timing = await restartOne(ctx, spec, restartActionFor(ctx, spec, 'cp1', 1, true, 0), (m) => said.push(m), { skipQuorumCheck: true });
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(timing.pods!.map((p) => p.container)).toEqual(PODS);
    for (const p of timing.pods!) {
      expect(p.before).toHaveLength(1);
      expect(p.after).toMatch(/^[0-9a-f]{16}$/);
      expect(p.after).not.toBe(p.before[0]);
    }
    expect(intents.filter((i) => i.startsWith('intent'))).toEqual(PODS.flatMap((p) => [`intent park: ${manifestsDir}/${p}.yaml`, `intent unpark: ${manifestsDir}/${p}.yaml`]));
    expect(readdirSync(manifestsDir).sort()).toEqual(PODS.map((p) => `${p}.yaml`).sort());
    expect(readdirSync(parkDir)).toEqual([]);
    expect(said.filter((m) => / healthy, new container /.test(m)).map((m) => m.split(':')[1]!.trim())).toEqual(PODS);
  });

  it('an apiserver whose container restarts on every look and never gets healthy: stops at that pod, names it, its manifest back in place, the pods after it untouched', async () => {
    rmSync(join(top, 'api-ok'));
    writeFileSync(join(top, 'crash'), 'kube-apiserver\n');
    // Longer than the 5 s an exit is given to turn healthy.
    const text = playbookText().replace('healthTimeoutSeconds: 3', 'healthTimeoutSeconds: 20');
    const ctx = context(text);
    const spec = specOf(text);
    const e = await restartOne(ctx, spec, restartActionFor(ctx, spec, 'cp1', 1, true, 0), () => undefined, { skipQuorumCheck: true }).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(SafetyStop);
    expect((e as SafetyStop).check).toBe('container-exited');
    expect((e as SafetyStop).message).toMatch(/^cp1: kube-apiserver: kube-apiserver was restarted \(container [0-9a-f]+ → [0-9a-f]+\) after its manifest returned, and it is not healthy \(.*\): the process exits at start; the run stopped before the next pod/);
    expect(existsSync(join(manifestsDir, 'kube-apiserver.yaml'))).toBe(true);
    expect(intents.filter((i) => i.startsWith('intent park'))).toEqual([`intent park: ${manifestsDir}/etcd.yaml`, `intent park: ${manifestsDir}/kube-apiserver.yaml`]);
  });

  it('a health check that never passes: health-timeout naming the pod and what is missing', async () => {
    rmSync(join(top, 'api-ok'));
    const ctx = context();
    const spec = specOf();
    const e = await restartOne(ctx, spec, restartActionFor(ctx, spec, 'cp1', 1, true, 0), () => undefined, { skipQuorumCheck: true }).then(() => null, (x: unknown) => x);
    expect((e as SafetyStop).check).toBe('health-timeout');
    expect((e as SafetyStop).message.split('\n')[0]).toBe('cp1: kube-apiserver: not healthy 3s after restart (health check not passing); the run stopped before the next pod');
  });

  it('a node a dead run left with the apiserver parked: etcd is not restarted again, the apiserver is put back and checked, the rest restarted', async () => {
    mkdirSync(parkDir, { recursive: true });
    writeFileSync(join(parkDir, 'kube-apiserver.yaml'), 'kind: Pod\n');
    rmSync(join(manifestsDir, 'kube-apiserver.yaml'));
    writeFileSync(parkMarkerOf(parkDir, 'kube-apiserver.yaml'), '{"runId":"dead-run"}\n');
    const ctx = context();
    const spec = specOf();
    const a = { ...restartActionFor(ctx, spec, 'cp1', 1, true, 0), parked: { runIds: ['dead-run'], files: [`${parkDir}/kube-apiserver.yaml`] } };
    const said: string[] = [];
    const timing = await restartOne(ctx, spec, a, (m) => said.push(m));
    expect(said[0]).toBe('cp1: etcd: restarted by run dead-run before it stopped');
    expect(timing.pods!.map((p) => p.container)).toEqual(['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']);
    expect(intents.filter((i) => i.startsWith('intent'))).toEqual([`intent unpark: ${manifestsDir}/kube-apiserver.yaml`, ...['kube-controller-manager', 'kube-scheduler'].flatMap((p) => [`intent park: ${manifestsDir}/${p}.yaml`, `intent unpark: ${manifestsDir}/${p}.yaml`])]);
    expect(existsSync(parkMarkerOf(parkDir, 'kube-apiserver.yaml'))).toBe(false);
  });

  it('served certificates: the node fails (served-old) when a port serves another certificate than the file', async () => {
    // openssl stand-in: s_client "serves" old.pem, x509 -in reads the file; both print what the real one prints.
    writeFileSync(join(top, 'disk.crt'), 'NEW');
    writeFileSync(
      join(binDir, 'openssl'),
      `#!/bin/sh
case "$1" in
  s_client) echo OLD ;;
  x509) in=; prev=; for a in "$@"; do [ "$prev" = -in ] && in=$a; prev=$a; done
        if [ -n "$in" ]; then v=$(cat "$in"); else v=$(cat); fi
        [ "$v" = NEW ] && printf 'sha256 Fingerprint=AA:BB\\nserial=02\\n' || printf 'sha256 Fingerprint=CC:DD\\nserial=01\\n' ;;
esac
`,
      { mode: 0o755 },
    );
    const text = playbookText([`    served: [{ endpoint: "127.0.0.1:6443", cert: ${join(top, 'disk.crt')} }]`]);
    const ctx = context(text);
    const spec = specOf(text);
    const withPath = { ...ctx, remote: () => ({ ...remote, sh: (s: string, o?: object) => remote.sh(`PATH=${binDir}:$PATH\n${s}`, o) }) as unknown as LocalRemote };
    const e = await restartOne(withPath as ApplyContext, spec, restartActionFor(ctx, spec, 'cp1', 1, true, 0), () => undefined, { skipQuorumCheck: true }).then(() => null, (x: unknown) => x);
    expect((e as SafetyStop).check).toBe('served-old');
    expect((e as SafetyStop).message.split('\n')[0]).toBe(`cp1: 127.0.0.1:6443 serves serial 01, not ${join(top, 'disk.crt')} (serial 02) now on disk: the process still holds the old certificate`);
  });
});

describe('the served-certificate check on recorded output', () => {
  const targets = [
    { endpoint: '10.0.0.1:6443', cert: '/etc/kubernetes/pki/apiserver.crt' },
    { endpoint: '10.0.0.1:2379', cert: '/etc/kubernetes/pki/etcd/server.crt' },
    { endpoint: '10.0.0.1:2380', cert: '/etc/kubernetes/pki/etcd/peer.crt' },
  ];
  it('one script, every port and file; a match, an old certificate, a port with no handshake', () => {
    const script = servedCheckScript(targets);
    expect(script).toContain('openssl s_client -connect 10.0.0.1:2380 </dev/null');
    expect(script).toContain('openssl x509 -in /etc/kubernetes/pki/etcd/peer.crt');
    const out = [
      '@@served 0', 'sha256 Fingerprint=AA:01', 'serial=1F', '@@file 0', 'sha256 Fingerprint=AA:01', 'serial=1F',
      '@@served 1', 'SHA256 Fingerprint=bb:02', 'serial=0a', '@@file 1', 'sha256 Fingerprint=CC:03', 'serial=0B',
      '@@served 2', '@@file 2', 'sha256 Fingerprint=DD:04', 'serial=0C', '@@end', '',
    ].join('\n');
    const seen = parseServedCheck(out, targets);
    expect(seen[0]).toMatchObject({ served: { fingerprint: 'AA:01', serial: '1F' }, file: { fingerprint: 'AA:01', serial: '1F' } });
    expect(servedProblems(seen)).toEqual([
      '10.0.0.1:2379 serves serial 0A, not /etc/kubernetes/pki/etcd/server.crt (serial 0B) now on disk: the process still holds the old certificate',
      'no TLS handshake on 10.0.0.1:2380 (nothing serves there, or openssl is missing)',
    ]);
  });
});
