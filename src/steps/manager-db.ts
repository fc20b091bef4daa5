// Step `manager-db`: back up manager_info to <table>_bak_<run>, update the CA, certificate and key rows in one transaction, read them back.
import { SafetyStop } from '../errors.js';
import type { ManagerDbStep } from '../playbook/types.js';
import type { Action, FileRole } from '../plan/types.js';
import { Secret } from '../secret.js';
import { backupDb, currentRows, dropTable, inspectDbBackup, updateDbRows, type DbConn, type RowValue } from '../manager/db.js';
import { managerDbPassword } from '../manager/mysql.js';
import { backupTableName, rowValueOf } from '../manager/sql.js';
import type { ApplyContext, StepModule } from './types.js';
import { change } from './shared.js';
import { sha256 } from '../hash.js';

type DbBackupAction = Extract<Action, { kind: 'db-backup' }>;
type DbUpdateAction = Extract<Action, { kind: 'db-update' }>;

const ORDER: FileRole[] = ['ca', 'cert', 'key'];

export const managerDb: StepModule<ManagerDbStep> = {
  type: 'manager-db',
  needs: ['distribute'],
  changesLiveState: true,
  usesMaterial: true,
  plan(spec, ctx) {
    const hosts = ctx.hostsOf([spec.on]);
    if (!ctx.material) return { hosts, actions: [], notes: ['no new certificates: the Manager database stays as it is'] };
    if (!hosts.length) return { hosts, actions: [], notes: [`"${spec.on}" names no host (no Manager in the inventory): nothing to update`] };
    const f = ctx.facts.manager?.db;
    if (!f) {
      ctx.warn({ level: 'block', code: 'manager-db-unknown', message: 'the Manager database was not examined' });
      return { hosts, actions: [], notes: [] };
    }
    if (!f.ok) {
      ctx.warn({ level: 'block', code: `manager-db-${f.error?.code ?? 'error'}`, host: f.host, message: f.error?.message ?? `${f.target}: unusable` });
      return { hosts, actions: [], notes: [] };
    }
    if (f.engine && f.engine.toLowerCase() !== 'innodb')
      ctx.warn({ level: 'warn', code: 'manager-db-no-transactions', host: f.host, message: `${f.target}: table ${f.table} uses the ${f.engine} engine, which has no transactions: the three rows are updated one by one` });
    const notes: string[] = [];
    const rows: DbUpdateAction['rows'] = [];
    let missing = false;
    for (const role of ORDER) {
      const key = ctx.playbook.files[role];
      const now = f.rows[key] ?? null;
      if (!now) {
        ctx.warn({ level: 'block', code: 'manager-db-row-missing', host: f.host, message: `${f.target}: table ${f.table} has no row "${key}" (or its value is NULL); certroll updates existing rows only` });
        missing = true;
        continue;
      }
      const content = ctx.material.files[role].content;
      const value = rowValueOf(content instanceof Secret ? content.reveal() : content);
      const after = sha256(value);
      if (now.sha256 === after) notes.push(`${key}: the row already holds the new ${role === 'key' ? 'key' : 'PEM'}`);
      else rows.push({ key, role, before: now.sha256, sha256: after, size: Buffer.byteLength(value), secret: role === 'key' });
    }
    if (missing || !rows.length) return { hosts, actions: [], notes: rows.length ? notes : [...notes, 'nothing to update'] };
    const backup = backupTableName(f.table, ctx.runId);
    const existing = f.backupTables.includes(backup);
    if (existing && !ctx.resume) ctx.warn({ level: 'block', code: 'manager-db-backup-exists', host: f.host, message: `${f.target}: the backup table ${backup} already exists; certroll never overwrites a backup` });
    notes.push(`rows are stored without the trailing newline of the files; earlier backup tables: ${f.backupTables.length ? f.backupTables.join(', ') : 'none'}`);
    return {
      hosts: [f.host],
      actions: [
        { kind: 'db-backup', host: f.host, target: f.target, table: f.table, backup, ...(existing ? { existing: true } : {}) },
        { kind: 'db-update', host: f.host, target: f.target, table: f.table, rows },
      ],
      notes,
    };
  },
  apply(step, spec, ctx) {
    const b = step.actions.find((a): a is DbBackupAction => a.kind === 'db-backup');
    const u = step.actions.find((a): a is DbUpdateAction => a.kind === 'db-update');
    if (!b || !u) return { items: [], concurrent: false };
    return [
      { title: 'back up the table', concurrent: false, items: [{ title: `${b.host}: ${b.table} → ${b.backup}`, host: b.host, run: (report: (m: string) => void) => backupOne(ctx, spec, b, report) }] },
      { title: 'update the rows', concurrent: false, items: [{ title: `${u.host}: ${u.rows.map((r) => r.key).join(', ')}`, host: u.host, run: (report: (m: string) => void) => updateOne(ctx, spec, u, report) }] },
    ];
  },
};

function conn(ctx: ApplyContext, spec: ManagerDbStep, host: string): DbConn {
  const db = ctx.inventory.hosts.find((h) => h.name === host)?.vars.managerDb;
  if (!db) throw new SafetyStop('manager-db', `${host}: the inventory has no vars.managerDb`, 'add it and run again', host);
  const password = managerDbPassword(db, ctx.env);
  if (!password) throw new SafetyStop('manager-db', `${host}: ${db.passwordEnv} is not set`, `export ${db.passwordEnv} and resume the run`, host);
  return { db, password, table: spec.table };
}

async function backupOne(ctx: ApplyContext, spec: ManagerDbStep, a: DbBackupAction, report: (m: string) => void): Promise<void> {
  const r = ctx.remote(a.host);
  const c = conn(ctx, spec, a.host);
  const keys = ORDER.map((role) => ctx.playbook.files[role]);
  const expected = ctx.facts.manager?.db?.rows ?? {};
  if (a.existing) {
    const check = await inspectDbBackup(r, c, a.backup, keys);
    if (!check) throw new SafetyStop('manager-db-backup', `${a.host}: the backup table ${a.backup} disappeared`, 'inspect the database by hand', a.host);
    const incomplete = check.backupRows !== check.tableRows || keys.some((k) => !check.rows[k]);
    if (!incomplete) return report(`existing backup table kept (${check.backupRows} rows)`);
    // This run's backup table (its name carries the run id) was cut short by a crash: the rows were never updated before
    // a verified backup, so the table still holds the values from before the run. Drop it and copy again.
    const mine = ctx.plan.steps.flatMap((st) => st.actions).find((x): x is DbUpdateAction => x.kind === 'db-update');
    const now = await currentRows(r, c, keys);
    if (mine?.rows.some((x) => now[x.key]?.sha256 === x.sha256 && x.before !== x.sha256))
      throw new SafetyStop('manager-db-backup', `${a.host}: the backup table ${a.backup} is incomplete (${check.backupRows} of ${check.tableRows} rows) and some rows already hold the new values`, 'inspect the database by hand; certroll will not overwrite rows without a whole backup', a.host);
    await dropTable(r, c, a.backup);
    report(`an incomplete backup table left by a crash was dropped`);
  }
  const check = await change(ctx, a.host, 'manager-db-backup', a.backup, () => backupDb(r, c, a.backup, keys, expected));
  report(`${check.backupRows} rows copied to ${a.backup} and checked`);
}

async function updateOne(ctx: ApplyContext, spec: ManagerDbStep, a: DbUpdateAction, report: (m: string) => void): Promise<void> {
  if (!ctx.material) throw new Error('no certificate material');
  const r = ctx.remote(a.host);
  const c = conn(ctx, spec, a.host);
  const keys = a.rows.map((x) => x.key);
  // The rows must still be what the plan saw (or already the new values, when resuming): nobody else changed them meanwhile.
  const now = await currentRows(r, c, keys);
  const stale = a.rows.filter((x) => now[x.key]?.sha256 !== x.before && now[x.key]?.sha256 !== x.sha256);
  if (stale.length)
    throw new SafetyStop('manager-db-changed', `${a.host}: rows ${stale.map((x) => x.key).join(', ')} of ${a.table} changed since the plan was made`, 'run `certroll plan` again; the backup table is in place', a.host);
  const values: RowValue[] = a.rows.map((x) => {
    const content = ctx.material!.files[x.role].content;
    return { key: x.key, value: content instanceof Secret ? new Secret(rowValueOf(content.reveal())) : rowValueOf(content) };
  });
  for (const v of values) {
    const want = a.rows.find((x) => x.key === v.key)!.sha256;
    if (sha256(typeof v.value === 'string' ? v.value : v.value.reveal()) !== want) throw new Error(`${v.key}: the value to write does not match the plan's sha256`);
  }
  await change(ctx, a.host, 'manager-db', `${a.table}: ${keys.join(', ')}`, () => updateDbRows(r, c, values));
  report(`${values.length} rows updated in one transaction, read back identical`);
}
