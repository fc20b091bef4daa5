// The SQL certroll sends to the Manager's database and the parsing of what comes back (pure): identifiers checked, values as hex literals.
import type { DbRowFact, ManagerDbErrorCode } from './types.js';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Row keys are playbook file names: safe inside '…' without escapes. */
const ROW_KEY = /^[A-Za-z0-9._+@%=,-]{1,255}$/;

/** A backquoted SQL identifier; refuses anything that is not a plain name. */
export function ident(name: string): string {
  if (!IDENT.test(name)) throw new TypeError(`not a plain SQL identifier: ${JSON.stringify(name)}`);
  return '`' + name + '`';
}

function keyLiteral(key: string): string {
  if (!ROW_KEY.test(key)) throw new TypeError(`not a row key certroll accepts: ${JSON.stringify(key)}`);
  return `'${key}'`;
}

/** A value as a hex literal converted to utf8mb4: no quoting or escaping can go wrong, bytes arrive exactly. */
export function textLiteral(value: string): string {
  if (value === '') return "''";
  return `CONVERT(X'${Buffer.from(value, 'utf8').toString('hex').toUpperCase()}' USING utf8mb4)`;
}

const keyList = (keys: readonly string[]) => keys.map(keyLiteral).join(', ');

/**
 * `<table>_bak_<run id>`, lower case, only [a-z0-9_], at most 64 characters (MySQL's identifier limit): run ids contain `-`,
 * which a bare identifier cannot, and lower case avoids surprises with lower_case_table_names.
 */
export function backupTableName(table: string, runId: string): string {
  const clean = runId.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  if (!clean) throw new TypeError(`run id ${JSON.stringify(runId)} has nothing usable in an identifier`);
  const name = `${table}_bak_${clean}`.slice(0, 64);
  ident(name);
  return name;
}

/** The exact text stored in a row for a PEM file: the Manager expects no trailing newline. */
export function rowValueOf(fileContent: string): string {
  return fileContent.replace(/(\r?\n)+$/, '');
}

/**
 * The `[client]` option-file line carrying the password, for --defaults-extra-file. It travels on stdin, never argv.
 * Inside double quotes the option-file parser understands \\ and \" (MariaDB and MySQL alike).
 */
export function passwordOptionLine(password: string): string {
  if (/[\n\r\0]/.test(password)) throw new TypeError('the database password contains a newline or NUL, which an option file cannot carry');
  return `password="${password.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Read-only: sha256 and byte length of the managed rows. */
export function rowsSql(table: string, keys: readonly string[]): string {
  return `SELECT '@@row', HEX(\`key\`), IFNULL(SHA2(\`value\`, 256), 'NULL'), IFNULL(LENGTH(\`value\`), -1) FROM ${ident(table)} WHERE \`key\` IN (${keyList(keys)});`;
}

/** Read-only: the managed rows' sha256/length, the table's engine, existing backup tables. */
export function factsSql(table: string, keys: readonly string[]): string {
  ident(table);
  const bakPattern = `${table}_bak_`.replace(/_/g, '\\_') + '%';
  return [
    rowsSql(table, keys),
    `SELECT '@@engine', IFNULL(ENGINE, '') FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '${table}';`,
    `SELECT '@@bak', TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '${bakPattern}';`,
    '',
  ].join('\n');
}

/** Create the backup table like the original, fill it with every row, then report both counts and the managed rows' sha256. */
export function backupSql(table: string, backup: string, keys: readonly string[]): string {
  const t = ident(table);
  const b = ident(backup);
  return [
    `CREATE TABLE ${b} LIKE ${t};`,
    `INSERT INTO ${b} SELECT * FROM ${t};`,
    ...inspectBackupSql(table, backup, keys),
    '',
  ].join('\n');
}

/** Read-only look at a backup table: row counts of both tables and the managed rows of the backup. */
export function inspectBackupSql(table: string, backup: string, keys: readonly string[]): string[] {
  const t = ident(table);
  const b = ident(backup);
  return [
    `SELECT '@@count', (SELECT COUNT(*) FROM ${t}), (SELECT COUNT(*) FROM ${b});`,
    `SELECT '@@bakrow', HEX(\`key\`), IFNULL(SHA2(\`value\`, 256), 'NULL'), IFNULL(LENGTH(\`value\`), -1) FROM ${b} WHERE \`key\` IN (${keyList(keys)});`,
  ];
}

/** Every managed row updated in one transaction; the session ends without COMMIT if any statement fails (mysql stops at the first error). */
export function updateSql(table: string, values: ReadonlyArray<{ key: string; value: string }>): string {
  const t = ident(table);
  return [
    'SET autocommit = 0;',
    'START TRANSACTION;',
    ...values.map((v) => `UPDATE ${t} SET \`value\` = ${textLiteral(v.value)} WHERE \`key\` = ${keyLiteral(v.key)};`),
    'COMMIT;',
    '',
  ].join('\n');
}

/** Read the managed rows back, byte for byte (as hex). */
export function readBackSql(table: string, keys: readonly string[]): string {
  return `SELECT '@@val', HEX(\`key\`), IFNULL(HEX(\`value\`), 'NULL') FROM ${ident(table)} WHERE \`key\` IN (${keyList(keys)});\n`;
}

/** Put the managed rows back from the backup table in one transaction, then compare each row with its backup. */
export function restoreSql(table: string, backup: string, keys: readonly string[]): string {
  const t = ident(table);
  const b = ident(backup);
  return [
    'SET autocommit = 0;',
    'START TRANSACTION;',
    `UPDATE ${t} JOIN ${b} ON ${b}.\`key\` = ${t}.\`key\` SET ${t}.\`value\` = ${b}.\`value\` WHERE ${t}.\`key\` IN (${keyList(keys)});`,
    'COMMIT;',
    `SELECT '@@cmp', HEX(${b}.\`key\`), IFNULL(SHA2(${t}.\`value\`, 256), 'NULL'), IFNULL(SHA2(${b}.\`value\`, 256), 'NULL') FROM ${b} LEFT JOIN ${t} ON ${t}.\`key\` = ${b}.\`key\` WHERE ${b}.\`key\` IN (${keyList(keys)});`,
    '',
  ].join('\n');
}

/** Read-only: whether a table exists in the current database. */
export function tableExistsSql(name: string): string {
  ident(name);
  return `SELECT '@@exists', COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '${name}';\n`;
}

/** Lines of `mysql --batch --skip-column-names` output that start with a certroll tag, split on tabs. */
export function taggedRows(stdout: string, tag: string): string[][] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith(tag + '\t'))
    .map((l) => l.split('\t').slice(1));
}

export const unhex = (h: string) => Buffer.from(h, 'hex').toString('utf8');

/** @@row / @@bakrow lines → key → sha256/size (null for a NULL value); keys not present are absent. */
export function parseRowFacts(stdout: string, tag: '@@row' | '@@bakrow'): Record<string, DbRowFact | null> {
  const out: Record<string, DbRowFact | null> = {};
  for (const [k, sha, len] of taggedRows(stdout, tag)) {
    if (k === undefined) continue;
    out[unhex(k)] = sha === 'NULL' || sha === undefined ? null : { sha256: sha.toLowerCase(), size: Number(len) };
  }
  return out;
}

/** Hide anything that could be part of a value we sent (long hex runs: the PEMs, including the key, travel as hex). */
export function redact(text: string): string {
  return text.replace(/[0-9A-Fa-f]{24,}/g, '<hex…>').replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, '<private key…>');
}

/** Classify a failed mysql client call by its exit code and stderr. */
export function classifyDbError(exitCode: number | null, stderr: string): ManagerDbErrorCode {
  if (exitCode === 91) return 'no-client';
  const m = /ERROR (\d{4})/.exec(stderr);
  const n = m ? Number(m[1]) : undefined;
  if (n === 1045 || n === 1698) return 'auth';
  if (n === 2002 || n === 2003 || n === 2005 || n === 2006 || n === 2013 || n === 2026) return 'unreachable';
  if (n === 1049) return 'no-database';
  if (n === 1146) return 'no-table';
  if (n === 1054) return 'bad-table';
  if (n === 1044 || n === 1142 || n === 1143) return 'denied';
  if (/Can't connect|Unknown MySQL server host|Lost connection/i.test(stderr)) return 'unreachable';
  if (/Access denied/i.test(stderr)) return 'auth';
  return 'other';
}
