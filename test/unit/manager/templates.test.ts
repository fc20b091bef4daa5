// The Manager template files with the real shell: verified backup beside the cert dir, atomic write, and restoreManagerTemplates.
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTemplateFiles } from '../../../src/manager/facts.js';
import { backupTemplates, restoreManagerTemplates, templateBackupMeta, writeTemplateFile } from '../../../src/manager/templates.js';
import { managerTemplatesBackupDir } from '../../../src/host-paths.js';
import { sha256 } from '../../../src/hash.js';
import { LocalRemote } from '../../support/local-remote.js';
import { asset } from '../../../lab/src/assets.js';

const top = mkdtempSync(join(tmpdir(), 'certroll-mgr-tpl-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));
const certDir = join(top, 'srv', 'kubernetes');
const g = join(top, 'TOS', 'tos-2.1', 'templates', 'gencerts');
const RUN = 'r-templates-1';
const OLD_CA = '-----BEGIN CERTIFICATE-----\nold\n-----END CERTIFICATE-----\n';
const NEW_CA = '-----BEGIN CERTIFICATE-----\nnew\n-----END CERTIFICATE-----\n';
/** The Manager's config.json as the lab has it (lab/assets/tos), and as the renewal leaves it. */
const CONFIG = asset('tos/config.json');
const NEW_CONFIG = CONFIG.replaceAll('"87600h"', '"876000h"');
const r = new LocalRemote('mgr');

beforeEach(() => {
  rmSync(top, { recursive: true, force: true });
  mkdirSync(certDir, { recursive: true });
  mkdirSync(g, { recursive: true });
  writeFileSync(join(g, 'etcd-ca.pem'), OLD_CA, { mode: 0o644 });
  writeFileSync(join(g, 'config.json'), CONFIG, { mode: 0o640 });
  writeFileSync(join(g, 'etcd-csr.json'), '{}');
});

async function backupAndWrite(): Promise<string> {
  const facts = await readTemplateFiles(r, g, ['etcd-ca.pem', 'config.json']);
  const dir = managerTemplatesBackupDir(certDir, RUN);
  await backupTemplates(r, dir, templateBackupMeta(RUN, g, [{ name: 'etcd-ca.pem', fact: facts['etcd-ca.pem']! }, { name: 'config.json', fact: facts['config.json']! }]));
  await writeTemplateFile(r, join(g, 'etcd-ca.pem'), NEW_CA, sha256(NEW_CA), { mode: 0o644, uid: process.getuid!(), gid: process.getgid!() });
  await writeTemplateFile(r, join(g, 'config.json'), NEW_CONFIG, sha256(NEW_CONFIG), { mode: 0o640, uid: process.getuid!(), gid: process.getgid!() });
  return dir;
}

describe('Manager templates on the host', () => {
  it('backs up beside the cert dir (outside the Manager content tree), with a manifest that verifies', async () => {
    const dir = await backupAndWrite();
    expect(dir).toBe(`${certDir}-manager-bak-${RUN}`);
    expect(readFileSync(join(dir, 'etcd-ca.pem'), 'utf8')).toBe(OLD_CA);
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe(CONFIG);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(g, 'config.json'), 'utf8')).toBe(NEW_CONFIG);
    expect(statSync(join(g, 'config.json')).mode & 0o777).toBe(0o640);
  });

  it('never takes a backup over an existing one', async () => {
    await backupAndWrite();
    const facts = await readTemplateFiles(r, g, ['etcd-ca.pem']);
    await expect(backupTemplates(r, managerTemplatesBackupDir(certDir, RUN), templateBackupMeta(RUN, g, [{ name: 'etcd-ca.pem', fact: facts['etcd-ca.pem']! }]))).rejects.toThrow(/failed or did not verify/);
    expect(readFileSync(join(managerTemplatesBackupDir(certDir, RUN), 'etcd-ca.pem'), 'utf8')).toBe(OLD_CA);
  });

  it('a file changed after the facts were read makes the backup fail verification', async () => {
    const facts = await readTemplateFiles(r, g, ['config.json']);
    writeFileSync(join(g, 'config.json'), CONFIG + ' ');
    await expect(backupTemplates(r, managerTemplatesBackupDir(certDir, 'r2'), templateBackupMeta('r2', g, [{ name: 'config.json', fact: facts['config.json']! }]))).rejects.toThrow(/did not verify/);
  });

  it('restoreManagerTemplates puts both files back byte for byte with their modes, other files untouched; twice is fine', async () => {
    await backupAndWrite();
    const res = await restoreManagerTemplates(r, { certDir, runId: RUN });
    expect(res).toMatchObject({ found: true, restored: [join(g, 'etcd-ca.pem'), join(g, 'config.json')], removed: [] });
    expect(readFileSync(join(g, 'etcd-ca.pem'), 'utf8')).toBe(OLD_CA);
    expect(readFileSync(join(g, 'config.json'), 'utf8')).toBe(CONFIG);
    expect(statSync(join(g, 'config.json')).mode & 0o777).toBe(0o640);
    expect(readFileSync(join(g, 'etcd-csr.json'), 'utf8')).toBe('{}');
    expect((await restoreManagerTemplates(r, { certDir, runId: RUN })).found).toBe(true);
    expect(readFileSync(join(g, 'etcd-ca.pem'), 'utf8')).toBe(OLD_CA);
  });

  it('a template CA the run created (none before) is removed on restore', async () => {
    rmSync(join(g, 'etcd-ca.pem'));
    await backupAndWrite();
    const res = await restoreManagerTemplates(r, { certDir, runId: RUN });
    expect(res.removed).toEqual([join(g, 'etcd-ca.pem')]);
    expect(existsSync(join(g, 'etcd-ca.pem'))).toBe(false);
  });

  it('refuses to restore from a tampered backup, and reports a run without a backup as nothing to do', async () => {
    const dir = await backupAndWrite();
    writeFileSync(join(dir, 'config.json'), '{}');
    await expect(restoreManagerTemplates(r, { certDir, runId: RUN })).rejects.toThrow(/does not verify/);
    expect(readFileSync(join(g, 'config.json'), 'utf8')).toBe(NEW_CONFIG);
    expect(await restoreManagerTemplates(r, { certDir, runId: 'other' })).toMatchObject({ found: false, restored: [] });
  });
});
