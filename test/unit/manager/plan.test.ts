// The plan halves of manager-templates and manager-db: pure functions of facts, with blocking warnings that say what to fix.
import { describe, expect, it } from 'vitest';
import { resolveTargets, hostScope } from '../../../src/inventory/targets.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import type { ManagerDbStep, ManagerTemplatesStep } from '../../../src/playbook/types.js';
import type { Warning, PlannedStep } from '../../../src/plan/types.js';
import { describeAction } from '../../../src/plan/describe.js';
import { Secret } from '../../../src/secret.js';
import type { FleetFacts } from '../../../src/facts/types.js';
import type { ManagerDbFacts, ManagerTemplateFacts } from '../../../src/manager/types.js';
import type { PlanContext } from '../../../src/steps/types.js';
import type { Material } from '../../../src/plan/material.js';
import { managerTemplates } from '../../../src/steps/manager-templates.js';
import { managerDb } from '../../../src/steps/manager-db.js';
import { sha256 } from '../../../src/hash.js';

/** Spelled in two parts so that no tracked file holds a literal PEM key header. */
const PRIVATE_KEY = ['PRIVATE', 'KEY'].join(' ');
import { inventory } from '../plan/fake-fleet.js';
import { asset } from '../../../lab/src/assets.js';

const NEW = { ca: 'NEW CA PEM\n', cert: 'NEW CERT PEM\n', key: `-----BEGIN ${PRIVATE_KEY}-----\nKEYBODYMARKER\n-----END ${PRIVATE_KEY}-----\n` };
const material: Material = {
  files: {
    ca: { content: NEW.ca, sha256: sha256(NEW.ca), size: NEW.ca.length },
    cert: { content: NEW.cert, sha256: sha256(NEW.cert), size: NEW.cert.length },
    key: { content: new Secret(NEW.key), sha256: sha256(NEW.key), size: NEW.key.length },
  },
};
const pb = parsePlaybook('name: t\nsteps:\n  - type: preflight\n  - type: backup\n  - type: manager-templates\n  - type: manager-db\n', 'pb.yaml');
const inv = inventory(['n1', 'n2', 'n3'], { manager: ['mgr'] });
const G = '/var/lib/transwarp-manager/master/content/meta/services/TOS/tos-2.1/templates/gencerts';
/** The Manager's config.json as the lab has it (lab/assets/tos): three "expiry": "87600h". */
const CONFIG = asset('tos/config.json');

function templates(over: Partial<ManagerTemplateFacts> = {}): ManagerTemplateFacts {
  return {
    host: 'mgr',
    root: '/var/lib/transwarp-manager/master/content/meta/services/TOS',
    rootExists: true,
    candidates: ['tos-2.1'],
    dirs: ['tos-2.1'],
    version: 'tos-2.1',
    versionSource: 'single-directory',
    gencertsDir: G,
    ca: { path: `${G}/etcd-ca.pem`, exists: true, sha256: sha256('OLD CA'), size: 6, mode: 0o644, uid: 0, gid: 0, content: 'OLD CA' },
    config: { path: `${G}/config.json`, exists: true, sha256: sha256(CONFIG), size: CONFIG.length, mode: 0o644, uid: 0, gid: 0, content: CONFIG },
    ...over,
  };
}
function db(over: Partial<ManagerDbFacts> = {}): ManagerDbFacts {
  const row = (s: string) => ({ sha256: sha256(s), size: s.length });
  return { host: 'mgr', target: 'manager@10.9.0.4:3306/manager', table: 'manager_info', ok: true, engine: 'InnoDB', rows: { 'etcd-ca.pem': row('old ca'), 'etcd.pem': row('old cert'), 'etcd-key.pem': row('old key') }, backupTables: [], ...over };
}

function ctxWith(manager: FleetFacts['manager'], opts: { resume?: boolean } = {}): { ctx: PlanContext; warnings: Warning[] } {
  const warnings: Warning[] = [];
  const facts: FleetFacts = { gatheredAt: 'now', hosts: {}, unreachable: [], etcd: null, ...(manager ? { manager } : {}) };
  const planned: PlannedStep[] = [];
  const ctx: PlanContext = {
    inventory: inv,
    playbook: pb,
    facts,
    material,
    runId: '20261123T101941Z-ab12cd',
    now: new Date(),
    hostsOf: (t) => resolveTargets(inv, t),
    host: (n) => inv.hosts.find((h) => h.name === n)!,
    hostFacts: () => undefined,
    scope: (n) => hostScope(inv, pb, n),
    warn: (w) => warnings.push(w),
    planned,
    ...(opts.resume ? { resume: { restarted: [] } } : {}),
  };
  return { ctx, warnings };
}
const tSpec = pb.steps.find((s) => s.type === 'manager-templates') as unknown as ManagerTemplatesStep;
const dSpec = pb.steps.find((s) => s.type === 'manager-db') as unknown as ManagerDbStep;

describe('manager-templates plan', () => {
  it('backs up, then writes the new CA and the rewritten config.json; the notes carry the version and the diff', () => {
    const { ctx, warnings } = ctxWith({ templates: { mgr: templates() } });
    const r = managerTemplates.plan(tSpec, ctx);
    expect(warnings.filter((w) => w.level === 'block')).toEqual([]);
    expect(r.actions.map((a) => a.kind)).toEqual(['manager-backup', 'manager-file', 'manager-file']);
    expect(r.actions[0]).toMatchObject({ dir: '/srv/kubernetes-manager-bak-20261123T101941Z-ab12cd', files: [`${G}/etcd-ca.pem`, `${G}/config.json`] });
    expect(r.actions[2]).toMatchObject({ what: 'config-json', changes: 3, sha256: sha256(CONFIG.replaceAll('87600h', '876000h')) });
    expect(r.notes.join('\n')).toContain('tos-2.1 (the only version directory)');
    expect(r.notes).toContain('  -4:       "expiry": "87600h"');
    expect(r.notes).toContain('  +4:       "expiry": "876000h"');
    expect(r.notes).toContain('  +13:         "expiry": "876000h"');
    for (const a of r.actions) expect(describeAction(a)).toBeTruthy();
  });

  it('an ambiguous version directory blocks, naming the candidates and vars.tosVersion', () => {
    const problem = 'several TOS version directories under /x: tos-2.0, tos-2.1; set vars.tosVersion in the inventory to the one in use';
    const { ctx, warnings } = ctxWith({ templates: { mgr: { host: 'mgr', root: '/x', rootExists: true, candidates: ['tos-2.0', 'tos-2.1'], dirs: ['tos-2.0', 'tos-2.1'], problem } } });
    expect(managerTemplates.plan(tSpec, ctx).actions).toEqual([]);
    expect(warnings).toEqual([{ level: 'block', code: 'manager-template-dir', host: 'mgr', message: `mgr: ${problem}` }]);
  });

  it('config.json that is not JSON blocks; one that has nothing to change and a CA already new plan nothing', () => {
    const bad = ctxWith({ templates: { mgr: templates({ config: { ...templates().config!, content: '{"expiry": "87600h",' } }) } });
    managerTemplates.plan(tSpec, bad.ctx);
    expect(bad.warnings.map((w) => w.code)).toContain('manager-config-invalid');
    const done = ctxWith({ templates: { mgr: templates({ ca: { ...templates().ca!, sha256: material.files.ca.sha256 }, config: { ...templates().config!, content: CONFIG.replaceAll('87600h', '876000h') } }) } });
    const r = managerTemplates.plan(tSpec, done.ctx);
    expect(r.actions).toEqual([]);
    expect(r.notes.join('\n')).toMatch(/already the new CA[\s\S]*nothing to change/);
  });

  it('no Manager host in the inventory: nothing to do, no warning', () => {
    const { ctx, warnings } = ctxWith(undefined);
    ctx.hostsOf = () => [];
    expect(managerTemplates.plan(tSpec, ctx).actions).toEqual([]);
    expect(warnings).toEqual([]);
  });
});

describe('manager-db plan', () => {
  it('backs up the table to <table>_bak_<run>, then updates the three rows; the key never appears', () => {
    const { ctx, warnings } = ctxWith({ templates: {}, db: db() });
    const r = managerDb.plan(dSpec, ctx);
    expect(warnings).toEqual([]);
    expect(r.actions[0]).toMatchObject({ kind: 'db-backup', backup: 'manager_info_bak_20261123t101941z_ab12cd' });
    const u = r.actions[1]!;
    expect(u.kind === 'db-update' && u.rows.map((x) => [x.key, x.sha256, x.secret])).toEqual([
      ['etcd-ca.pem', sha256('NEW CA PEM'), false],
      ['etcd.pem', sha256('NEW CERT PEM'), false],
      ['etcd-key.pem', sha256(NEW.key.trimEnd()), true],
    ]);
    const text = JSON.stringify(r) + r.actions.map(describeAction).join('\n');
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain('KEYBODYMARKER');
  });

  it.each([
    ['auth', 'tos-lab-5: database manager@h:3306/manager: ERROR 1045 (28000): Access denied; check CERTROLL_DB_PASSWORD'],
    ['unreachable', "ERROR 2003 (HY000): Can't connect to MySQL server"],
    ['no-table', "ERROR 1146 (42S02): Table 'manager.manager_info' doesn't exist"],
    ['no-password', 'the password variable CERTROLL_DB_PASSWORD is not set'],
  ] as const)('a database that answers %s blocks the plan with its message', (code, message) => {
    const { ctx, warnings } = ctxWith({ templates: {}, db: db({ ok: false, error: { code, message }, rows: {} }) });
    expect(managerDb.plan(dSpec, ctx).actions).toEqual([]);
    expect(warnings).toEqual([{ level: 'block', code: `manager-db-${code}`, host: 'mgr', message }]);
  });

  it('a missing row blocks; an existing backup table of this run blocks unless resuming; MyISAM warns', () => {
    const missing = ctxWith({ templates: {}, db: db({ rows: { 'etcd-ca.pem': { sha256: 'x', size: 1 }, 'etcd.pem': null, 'etcd-key.pem': { sha256: 'y', size: 1 } } }) });
    managerDb.plan(dSpec, missing.ctx);
    expect(missing.warnings.map((w) => w.code)).toEqual(['manager-db-row-missing']);
    const exists = ctxWith({ templates: {}, db: db({ backupTables: ['manager_info_bak_20261123t101941z_ab12cd'] }) });
    managerDb.plan(dSpec, exists.ctx);
    expect(exists.warnings.map((w) => w.code)).toEqual(['manager-db-backup-exists']);
    const resumed = ctxWith({ templates: {}, db: db({ backupTables: ['manager_info_bak_20261123t101941z_ab12cd'], engine: 'MyISAM' }) }, { resume: true });
    const r = managerDb.plan(dSpec, resumed.ctx);
    expect(resumed.warnings.map((w) => [w.level, w.code])).toEqual([['warn', 'manager-db-no-transactions']]);
    expect(r.actions[0]).toMatchObject({ kind: 'db-backup', existing: true });
  });

  it('rows that already hold the new values: nothing to update', () => {
    const row = (s: string) => ({ sha256: sha256(s), size: s.length });
    const { ctx } = ctxWith({ templates: {}, db: db({ rows: { 'etcd-ca.pem': row('NEW CA PEM'), 'etcd.pem': row('NEW CERT PEM'), 'etcd-key.pem': row(NEW.key.trimEnd()) } }) });
    const r = managerDb.plan(dSpec, ctx);
    expect(r.actions).toEqual([]);
    expect(r.notes).toContain('nothing to update');
  });
});
