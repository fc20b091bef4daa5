// Crash anywhere, kubeadm flavour: the CLI killed (SIGKILL from a failpoint, src/failpoint.ts), then one command finishes:
// `run --resume RUN_ID`; or, the journal lost, a new `run --break-lock` from the hosts alone; or `rollback --run RUN_ID`.
// After it every control-plane node serves the files on its disk (6443, 2379, 2380), nothing stays parked, every manifest
// is back, a new plan has nothing to do (or, after the rollback, every file under /etc/kubernetes and /var/lib/kubelet is
// byte-identical to before, with mode and owner), and the etcd write probe saw no failed write across the kill and the
// finish. By default the three ways at the hardest point, the middle of the rolling restart (`stopped.after#5`: a pod's
// manifest parked, its container stopped); CERTROLL_CRASH_WALK=each walks 12 points (the ways taking turns), =full all 36.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { certroll } from '../support/cli.js';
import { startWriter } from '../support/etcd-writer.js';
import { kubeadmLabSh, resetKubeadmLab, useKubeadmLab } from './kubeadm-lab-helpers.js';

const lab = useKubeadmLab({ resetAfter: true });
const tmp = mkdtempSync(join(tmpdir(), 'certroll-kbresume-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const home = join(tmp, 'home');
const env = { CERTROLL_HOME: home };
const PLAYBOOK = 'playbooks/kubeadm-renew.yaml';
const PKI = '/etc/kubernetes/pki';
const PARK = '/etc/kubernetes/certroll-parked';
const MANIFESTS = '/etc/kubernetes/manifests';

/** The fingerprint of the certificate served on a port of a node, and of the file it must be (openssl, on the node). */
const servedAndFile = (address: string, port: number, file: string) =>
  kubeadmLabSh(address, [
    `openssl s_client -connect ${address}:${port} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`,
    `openssl x509 -in ${PKI}/${file}.crt -noout -fingerprint -sha256`,
  ].join('\n'), lab.dir);

type Way = 'resume' | 'hosts-only' | 'rollback';
const WAYS: Way[] = ['resume', 'hosts-only', 'rollback'];
const WALK = ['lock.after', 'backup.after#2', 'stage.after#2', 'stage.after#5', 'swap.before#2', 'swap.after#4', 'park.after#2', 'stopped.after#5', 'unpark.after#5', 'node.after#1', 'refresh-kube-config.before', 'refresh-kube-config.after#2'];
// Default: the three ways at the hardest point (a pod parked); `each`: every point once, the ways taking turns; `full`: all.
const CASES: Array<[string, Way]> =
  process.env.CERTROLL_CRASH_WALK === 'full' ? WALK.flatMap((fp) => WAYS.map((w) => [fp, w] as [string, Way]))
  : process.env.CERTROLL_CRASH_WALK === 'each' ? WALK.map((fp, i) => [fp, WAYS[i % WAYS.length]!])
  : WAYS.map((w) => ['stopped.after#5', w]);
let dirty = false;

/** Per node: "path mode owner sha256" of every file under /etc/kubernetes and /var/lib/kubelet (etcd's data dir aside). */
const snapshot = () =>
  Promise.all(lab.hosts.map((h) => kubeadmLabSh(h.address, `find /etc/kubernetes /var/lib/kubelet -type f -printf '%p %m %u:%g ' -exec sha256sum {} \\; | awk '{ print $1, $2, $3, $4 }' | sort`, lab.dir)));

describe.each(CASES)('kubeadm: killed at %s, finished by %s', (fp, way) => {
  it('one command finishes it: every node serves the files on disk, nothing parked, 0 failed writes', async () => {
    if (dirty) Object.assign(lab, await resetKubeadmLab(lab.dir));
    dirty = true;
    rmSync(home, { recursive: true, force: true });
    const cp = lab.controlPlane;
    const first = cp[0]!.address;
    const manifestsBefore = await Promise.all(cp.map((h) => kubeadmLabSh(h.address, `ls -A ${MANIFESTS}`, lab.dir)));
    const before = way === 'rollback' ? await snapshot() : [];
    const [ca, cert, key] = await Promise.all(['etcd/ca.crt', 'apiserver-etcd-client.crt', 'apiserver-etcd-client.key'].map((f) => kubeadmLabSh(first, `cat ${PKI}/${f}`, lab.dir)));
    const writer = startWriter({ endpoints: cp.map((h) => `https://${h.address}:2379`), ca: ca!, cert: cert!, key: key!, intervalMs: 100, prefix: '/certroll-kbresume' });
    try {
      const killed = await certroll(['run', '--yes', '--pause', '0', '-i', lab.inventory, PLAYBOOK], { ...env, CERTROLL_FAILPOINT: fp });
      expect(killed.stderr, killed.stdout + killed.stderr).toContain(`failpoint ${fp}: killing certroll`);
      expect(killed.code).not.toBe(0);
      const runs = readdirSync(join(home, 'runs'));
      expect(runs).toHaveLength(1);
      const runId = runs[0]!;

      if (fp.startsWith('stopped.after')) {
        // The fifth pod stopped (four pods a node: on the second node restarted): exactly one pod parked, as the kill left it.
        const parked = await Promise.all(cp.map((h) => kubeadmLabSh(h.address, `ls -A ${PARK} 2>/dev/null || true`, lab.dir)));
        expect(parked.filter((p) => p.trim()).length, parked.join('|')).toBe(1);
      }

      if (way === 'resume') {
        const resumed = await certroll(['run', '--resume', runId, '--yes', '--pause', '0'], env);
        expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
        expect(resumed.stdout).toContain(`Run ${runId} succeeded`);
      } else if (way === 'hosts-only') {
        // The journal is lost: a new run from another journal home, taking over the dead run's lock, finishes from the hosts.
        rmSync(home, { recursive: true, force: true });
        const fresh = await certroll(['run', '--yes', '--pause', '0', '--break-lock', '-i', lab.inventory, PLAYBOOK], { CERTROLL_HOME: join(tmp, 'other-home') });
        expect(fresh.code, fresh.stderr + fresh.stdout).toBe(0);
      } else {
        const back = await certroll(['rollback', '-i', lab.inventory, '--run', runId, '--yes', '--pause', '0'], env);
        expect(back.code, back.stderr + back.stdout).toBe(0);
        expect(await snapshot()).toEqual(before);
      }
    } finally {
      const stats = await writer.stop();
      console.log(`kubeadm ${fp} ${way}: ${stats.attempts} writes, ${stats.failures} failed, longest gap ${stats.longestGapMs} ms`);
      expect(stats.failures, stats.errors.join('\n')).toBe(0);
    }

    // Nothing parked, every manifest back where it was; every node serves the files now on disk on 6443, 2379, 2380.
    for (const [i, h] of cp.entries()) {
      expect(await kubeadmLabSh(h.address, `ls -A ${PARK} 2>/dev/null || true`, lab.dir), h.name).toBe('');
      expect(await kubeadmLabSh(h.address, `ls -A ${MANIFESTS}`, lab.dir), h.name).toBe(manifestsBefore[i]);
      for (const [port, file] of [[6443, 'apiserver'], [2379, 'etcd/server'], [2380, 'etcd/peer']] as const) {
        const [served, onDisk] = (await servedAndFile(h.address, port, file)).trim().split('\n');
        expect(served, `${h.name}:${port}`).toMatch(/Fingerprint=/);
        expect(served, `${h.name}:${port}`).toBe(onDisk);
      }
    }
    if (way !== 'rollback') {
      const again = await certroll(['plan', '-i', lab.inventory, PLAYBOOK], { CERTROLL_HOME: join(tmp, 'plan-home') });
      expect(again.code, again.stderr + again.stdout).toBe(0);
      expect(again.stdout).toMatch(/Status: nothing to do/);
    }
  }, 600_000);
});
