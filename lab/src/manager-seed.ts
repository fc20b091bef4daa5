// SQL that (re)creates the Manager's database: lab/assets/tos/manager-schema.sql, the given rows, and user 'manager' with the
// password. One seed for the lab's Manager host and the MariaDB unit tests (test/unit/manager/support.ts).
import { asset } from './assets.js';

const sqlString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The seed: schema, one INSERT per row (values as given: PEMs without their trailing newline, as the Manager stores them), the user. */
export function managerSeedSql(password: string, rows: Record<string, string>): string {
  return [
    asset('tos/manager-schema.sql').trimEnd(),
    ...Object.entries(rows).map(([k, v]) => `INSERT INTO manager_info (\`key\`, \`value\`) VALUES (${sqlString(k)}, ${sqlString(v)});`),
    `CREATE USER IF NOT EXISTS 'manager'@'%' IDENTIFIED BY ${sqlString(password)};`,
    `ALTER USER 'manager'@'%' IDENTIFIED BY ${sqlString(password)};`,
    "GRANT ALL PRIVILEGES ON manager.* TO 'manager'@'%';",
    'FLUSH PRIVILEGES;',
    '',
  ].join('\n');
}
