// The apply half of refresh-kube-config with the real shell (LocalRemote) over a temporary tree: facts gathered by the real
// scan, planned, admin.conf renewed in between (by the kubeconfig rewriter, as renew-kubeconfigs does), then applied:
// copies replaced byte for byte with mode and owner kept, backups beside them, everything else untouched; and every refusal.
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { Workdir } from '../pki/fixtures.js';
import { LocalRemote } from '../../support/local-remote.js';
import { kubeconfigText, makeCa, makeClient } from '../../support/kubeconfig-fixtures.js';
import { kubeconfigCopiesScript, parseKubeconfigCopies, type KubeconfigCopiesQuery } from '../../../src/facts/kubeconfig-copies.js';
import { planRefreshHost, refreshKubeConfig, type RefreshAction } from '../../../src/steps/refresh-kube-config.js';
import { rewriteClientCredentials } from '../../../src/pki/kubeconfig.js';
import { sha256 } from '../../../src/hash.js';
import type { ApplyContext, Phase } from '../../../src/steps/types.js';
import type { PlannedStep } from '../../../src/plan/types.js';
import type { RefreshKubeConfigStep } from '../../../src/playbook/types.js';

const w = new Workdir();
afterAll(() => w.remove());
makeCa(w);
const old = makeClient(w, 'old', 'kubernetes-admin');
const renewed = makeClient(w, 'new', 'kubernetes-admin');
const jane = makeClient(w, 'jane', 'jane');
const RUN = '20261202T160000Z-abc123';
const root = join(w.dir, 'host');
const adminConf = join(root, 'etc', 'kubernetes', 'admin.conf');
const rootKube = join(root, 'root', '.kube');
const opsKube = join(root, 'home', 'ops', '.kube');
const passwd = join(w.dir, 'passwd');
const oldAdmin = kubeconfigText(w, [{ name: 'kubernetes-admin', ...old }]);
const newAdmin = rewriteClientCredentials(oldAdmin, 'admin.conf', 'kubernetes-admin', { certPem: renewed.cert, keyPem: renewed.key }).reveal();
const janeConf = kubeconfigText(w, [{ name: 'jane', ...jane }]);
const lbCopy = kubeconfigText(w, [{ name: 'kubernetes-admin', ...old }], { server: 'https://lb.example:6443' });
const spec: RefreshKubeConfigStep = { type: 'refresh-kube-config', targets: ['control-plane'], adminConf };
const query: KubeconfigCopiesQuery = { adminConf, users: ['ops'], alwaysDirs: [rootKube], passwdFile: passwd };
const remote = new LocalRemote('cp-1');
const intents: string[] = [];

/** The host as kubeadm and an operator leave it: admin.conf, root's copy, ops's copy (0644, owned by ops), other files. */
function reset(): void {
  w.run('rm', ['-rf', root]);
  mkdirSync(join(root, 'etc', 'kubernetes'), { recursive: true });
  mkdirSync(rootKube, { recursive: true });
  mkdirSync(opsKube, { recursive: true });
  writeFileSync(adminConf, oldAdmin, { mode: 0o600 });
  writeFileSync(join(rootKube, 'config'), oldAdmin, { mode: 0o600 });
  writeFileSync(join(opsKube, 'config'), lbCopy);
  chmodSync(join(opsKube, 'config'), 0o644);
  chownSync(join(opsKube, 'config'), 1000, 1001);
  writeFileSync(join(opsKube, 'jane.conf'), janeConf, { mode: 0o600 });
  writeFileSync(passwd, `root:x:0:0:root:${join(root, 'root')}:/bin/sh\nops:x:1000:1000::${join(root, 'home', 'ops')}:/bin/sh\n`);
  intents.length = 0;
}

async function planNow(): Promise<PlannedStep> {
  const facts = parseKubeconfigCopies('cp-1', query, (await remote.sh(kubeconfigCopiesScript(query))).stdout);
  const p = planRefreshHost({ facts, adminConf, renewed: true, runId: RUN });
  return { index: 6, type: 'refresh-kube-config', title: 'refresh-kube-config', at: { file: 'kubeadm-renew.yaml' }, hosts: ['cp-1'], actions: p.actions, notes: p.notes };
}

const ctx = { remote: () => remote, runId: RUN, journalIntent: async (e: { event: string; message?: string }) => void intents.push(`${e.event} ${e.message ?? ''}`) } as unknown as ApplyContext;

async function apply(step: PlannedStep): Promise<string[]> {
  const said: string[] = [];
  for (const p of ([] as Phase[]).concat(refreshKubeConfig.apply(step, spec, ctx))) for (const item of p.items) await item.run((m) => said.push(m));
  return said;
}
const read = (p: string) => readFileSync(p, 'utf8');
const owner = (p: string) => {
  const s = statSync(p);
  return { mode: s.mode & 0o7777, uid: s.uid, gid: s.gid };
};
const backupOf = (p: string) => `${p}.certroll-bak-${RUN}`;

describe('refresh-kube-config (apply half, real shell)', () => {
  beforeEach(reset);

  it('replaces each copy of the old admin.conf by the renewed one, copied on the host, backed up first, mode and owner kept; leaves the rest', async () => {
    const step = await planNow();
    expect(step.actions.map((a) => (a as RefreshAction).path)).toEqual([join(rootKube, 'config'), join(opsKube, 'config')]);
    expect(step.notes).toEqual([`cp-1: ${join(opsKube, 'jane.conf')}: holds another client certificate (${jane.derSha256.slice(0, 16)}…): not touched`]);
    writeFileSync(adminConf, newAdmin); // renew-kubeconfigs, an earlier step of the run
    const said = await apply(step);
    expect(said).toEqual([`${join(rootKube, 'config')} replaced (backup config.certroll-bak-${RUN})`, `${join(opsKube, 'config')} replaced (backup config.certroll-bak-${RUN})`]);
    expect(read(join(rootKube, 'config'))).toBe(newAdmin);
    expect(read(join(opsKube, 'config'))).toBe(newAdmin);
    expect(owner(join(rootKube, 'config'))).toEqual({ mode: 0o600, uid: 0, gid: 0 });
    expect(owner(join(opsKube, 'config'))).toEqual({ mode: 0o644, uid: 1000, gid: 1001 });
    expect(read(backupOf(join(rootKube, 'config')))).toBe(oldAdmin);
    expect(read(backupOf(join(opsKube, 'config')))).toBe(lbCopy);
    expect(owner(backupOf(join(opsKube, 'config')))).toEqual({ mode: 0o644, uid: 1000, gid: 1001 });
    expect(read(join(opsKube, 'jane.conf'))).toBe(janeConf);
    expect(readdirSync(opsKube).sort()).toEqual(['config', `config.certroll-bak-${RUN}`, 'jane.conf']);
    expect(intents.filter((i) => i.startsWith('intent'))).toEqual([
      `intent refresh-kube-config: ${join(rootKube, 'config')} ← ${adminConf} (backup ${backupOf(join(rootKube, 'config'))})`,
      `intent refresh-kube-config: ${join(opsKube, 'config')} ← ${adminConf} (backup ${backupOf(join(opsKube, 'config'))})`,
    ]);
    // No kubeconfig content went through a command line or stdin (the LocalRemote log holds every script and its stdin).
    for (const entry of remote.log) {
      expect(entry.stdin ?? '').toBe('');
      for (const k of [old, renewed]) expect(entry.script).not.toContain(Buffer.from(k.key.reveal()).toString('base64').slice(80, 120));
    }
    // A resumed run (same plan, after the files were replaced) does nothing more; a new plan finds nothing to do.
    expect(await apply(step)).toEqual([`${join(rootKube, 'config')} already holds ${adminConf}`, `${join(opsKube, 'config')} already holds ${adminConf}`]);
    const facts = parseKubeconfigCopies('cp-1', query, (await remote.sh(kubeconfigCopiesScript(query))).stdout);
    expect(planRefreshHost({ facts, adminConf, renewed: false, runId: 'next' }).actions).toEqual([]);
  });

  it('keeps a backup this run already took (a crash between backup and copy) when it is the same file', async () => {
    const step = await planNow();
    writeFileSync(adminConf, newAdmin);
    writeFileSync(backupOf(join(rootKube, 'config')), oldAdmin, { mode: 0o600 });
    expect((await apply(step))[0]).toBe(`${join(rootKube, 'config')} replaced (backup config.certroll-bak-${RUN}, kept from before)`);
    expect(read(join(rootKube, 'config'))).toBe(newAdmin);
  });

  it('never overwrites a different backup, never copies an admin.conf that was not renewed, never touches a file changed since the plan', async () => {
    const step = await planNow();
    const rootCopy = join(rootKube, 'config');
    // admin.conf still the old one: nothing is touched, no backup is taken.
    await expect(apply(step)).rejects.toThrow(`still holds the client certificate ${rootCopy} holds: it has not been renewed`);
    expect(read(rootCopy)).toBe(oldAdmin);
    expect(existsSync(backupOf(rootCopy))).toBe(false);

    writeFileSync(adminConf, newAdmin);
    writeFileSync(backupOf(rootCopy), 'something else\n');
    await expect(apply(step)).rejects.toThrow(`the backup ${backupOf(rootCopy)} exists and differs from ${rootCopy}: certroll never overwrites a backup`);
    expect(read(rootCopy)).toBe(oldAdmin);
    expect(read(backupOf(rootCopy))).toBe('something else\n');

    reset();
    const again = await planNow();
    writeFileSync(adminConf, newAdmin);
    writeFileSync(rootCopy, oldAdmin + '# edited after the plan\n');
    await expect(apply(again)).rejects.toThrow(`${rootCopy} changed since the plan: not touched`);
    expect(read(rootCopy)).toBe(oldAdmin + '# edited after the plan\n');
    expect(readdirSync(rootKube)).toEqual(['config']);
  });

  it('refuses an admin.conf that is gone or holds no readable certificate', async () => {
    const step = await planNow();
    w.run('rm', ['-f', adminConf]);
    await expect(apply(step)).rejects.toThrow(`${adminConf} is missing or not a regular file`);
    writeFileSync(adminConf, 'apiVersion: v1\nkind: Config\n');
    await expect(apply(step)).rejects.toThrow(`${adminConf} holds no client certificate certroll can read`);
    expect(read(join(rootKube, 'config'))).toBe(oldAdmin);
    expect(sha256(read(join(opsKube, 'config')))).toBe(sha256(lbCopy));
  });
});
