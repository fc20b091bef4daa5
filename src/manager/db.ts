// The Manager's manager_info table: back it up to <table>_bak_<run>, update the PEM rows in one transaction, read them back; restore for rollback.
import type { ManagerDb } from '../inventory/types.js';
import type { Secret } from '../secret.js';
import type { Remote } from '../ssh/remote.js';
import { sha256 } from '../hash.js';
import { ManagerDbError, dbTarget, runSql } from './mysql.js';
import { backupSql, backupTableName, inspectBackupSql, parseRowFacts, readBackSql, restoreSql, rowsSql, tableExistsSql, taggedRows, unhex, updateSql } from './sql.js';
import { ident } from './sql.js';
import type { DbRowFact } from './types.js';

export interface DbConn {
  db: ManagerDb;
  password: Secret<string>;
  table: string;
}

export interface BackupCheck {
  tableRows: number;
  backupRows: number;
  /** Managed rows as found in the backup table. */
  rows: Record<string, DbRowFact | null>;
}

/** Counts and managed rows of an existing backup table (read-only). */
export async function inspectDbBackup(r: Remote, c: DbConn, backup: string, keys: string[]): Promise<BackupCheck | null> {
  const exists = await runSql(r, c.db, c.password, tableExistsSql(backup), { table: c.table });
  if (taggedRows(exists, '@@exists')[0]?.[0] !== '1') return null;
  return parseBackupCheck(await runSql(r, c.db, c.password, inspectBackupSql(c.table, backup, keys).join('\n') + '\n', { table: c.table }));
}

function parseBackupCheck(stdout: string): BackupCheck {
  const [t, b] = taggedRows(stdout, '@@count')[0] ?? [];
  return { tableRows: Number(t), backupRows: Number(b), rows: parseRowFacts(stdout, '@@bakrow') };
}

/**
 * CREATE TABLE <backup> LIKE <table>, copy every row, then check: same number of rows, and the managed rows hold what the plan
 * saw (`expected`, by sha256). Throws ManagerDbError when the table exists already, a statement fails or the check fails.
 */
export async function backupDb(r: Remote, c: DbConn, backup: string, keys: string[], expected: Record<string, DbRowFact | null>): Promise<BackupCheck> {
  const out = await runSql(r, c.db, c.password, backupSql(c.table, backup, keys), { table: c.table });
  const check = parseBackupCheck(out);
  const problem = backupProblem(check, keys, expected);
  if (problem)
    throw new ManagerDbError(r.host, 'other', `${r.host}: the backup table ${backup} in ${dbTarget(c.db)} does not match ${c.table}: ${problem}`, `nothing was updated; inspect ${backup}, drop it, and run again`);
  return check;
}

/** Why a backup does not hold the table as the plan saw it, or undefined. */
export function backupProblem(check: BackupCheck, keys: string[], expected: Record<string, DbRowFact | null>): string | undefined {
  if (check.backupRows !== check.tableRows) return `${check.backupRows} rows, the table has ${check.tableRows}`;
  for (const k of keys) {
    const want = expected[k] ?? null;
    const got = check.rows[k] ?? null;
    if ((want?.sha256 ?? null) !== (got?.sha256 ?? null)) return `row ${k} differs from what the plan saw (changed since?)`;
  }
  return undefined;
}

/** DROP TABLE a backup table of this run (its name was checked as a plain identifier). */
export async function dropTable(r: Remote, c: DbConn, table: string): Promise<void> {
  await runSql(r, c.db, c.password, `DROP TABLE ${ident(table)};\n`, { table: c.table });
}

/** sha256 of the managed rows now, read-only. */
export async function currentRows(r: Remote, c: DbConn, keys: string[]): Promise<Record<string, DbRowFact | null>> {
  const found = parseRowFacts(await runSql(r, c.db, c.password, rowsSql(c.table, keys) + '\n', { table: c.table }), '@@row');
  return Object.fromEntries(keys.map((k) => [k, found[k] ?? null]));
}

export interface RowValue {
  key: string;
  /** The exact text to store (no trailing newline); may be a key: then it is a Secret. */
  value: string | Secret<string>;
}

const revealed = (v: string | Secret<string>) => (typeof v === 'string' ? v : v.reveal());

/**
 * Update every row in one transaction (the SQL, key included, travels on stdin), then, in the same client session once the
 * transaction is committed, read the rows back and compare them byte for byte with what was sent (the client stops at the
 * first failed statement: a failed update reads nothing back and throws). Throws ManagerDbError naming the row (never its
 * content) on any difference.
 */
export async function updateDbRows(r: Remote, c: DbConn, values: RowValue[]): Promise<void> {
  const sql = updateSql(c.table, values.map((v) => ({ key: v.key, value: revealed(v.value) }))) + readBackSql(c.table, values.map((v) => v.key));
  compareReadBack(r.host, c, values, await runSql(r, c.db, c.password, sql, { table: c.table }));
}

/** Judge readBackSql's output (the rows read back as hex) against the expected values; the values stay in memory, only sha256 prefixes reach messages. */
function compareReadBack(host: string, c: DbConn, values: RowValue[], out: string): void {
  const got = new Map(taggedRows(out, '@@val').map(([k, v]) => [unhex(k!), v === 'NULL' ? null : Buffer.from(v!, 'hex')]));
  for (const v of values) {
    const want = Buffer.from(revealed(v.value), 'utf8');
    const have = got.get(v.key);
    if (!have || !have.equals(want))
      throw new ManagerDbError(
        host,
        'other',
        `${host}: row ${v.key} of ${c.table} does not read back as written (sha256 ${have ? sha256(have).slice(0, 16) : 'missing'}… instead of ${sha256(want).slice(0, 16)}…)`,
        `the backup table holds the old rows; restore them with \`certroll rollback\` or by hand`,
      );
  }
}

export interface RestoreDbOptions {
  db: ManagerDb;
  /** The database password (e.g. managerDbPassword(db) from the environment). */
  password: Secret<string>;
  runId: string;
  /** Default manager_info. */
  table?: string;
  /** Rows to put back; default the three PEM rows etcd-ca.pem, etcd.pem, etcd-key.pem. */
  keys?: string[];
}

export interface RestoreDbResult {
  backup: string;
  /** false when the run left no backup table (it stopped before the manager-db step): nothing to do. */
  found: boolean;
  /** Rows put back from the backup table and checked equal to it. */
  restored: string[];
}

/**
 * Rollback: put the managed rows of `table` back from `<table>_bak_<run>` in one transaction, then compare each with the backup
 * (sha256 in SQL). Rows other than `keys` are left alone (the Manager may have changed them since). Idempotent; the backup
 * table is kept. Throws ManagerDbError when the database cannot be reached or a row differs afterwards.
 */
export async function restoreManagerDb(r: Remote, o: RestoreDbOptions): Promise<RestoreDbResult> {
  const table = o.table ?? 'manager_info';
  const keys = o.keys ?? ['etcd-ca.pem', 'etcd.pem', 'etcd-key.pem'];
  const backup = backupTableName(table, o.runId);
  const c: DbConn = { db: o.db, password: o.password, table };
  const exists = await runSql(r, o.db, o.password, tableExistsSql(backup), { table });
  if (taggedRows(exists, '@@exists')[0]?.[0] !== '1') return { backup, found: false, restored: [] };
  const out = await runSql(r, c.db, c.password, restoreSql(table, backup, keys), { table });
  const restored: string[] = [];
  for (const [k, live, bak] of taggedRows(out, '@@cmp')) {
    const key = unhex(k!);
    if (live !== bak)
      throw new ManagerDbError(r.host, 'other', `${r.host}: row ${key} of ${table} differs from ${backup} after the restore`, `copy it by hand: UPDATE ${table} t JOIN ${backup} b USING (\`key\`) SET t.value = b.value WHERE t.key = '${key}'`);
    restored.push(key);
  }
  return { backup, found: true, restored };
}
