// Runs SQL on the Manager's database with the mysql/mariadb client on the Manager host: password and SQL on stdin, never argv.
import { HostError } from '../errors.js';
import type { ManagerDb } from '../inventory/types.js';
import { Secret } from '../secret.js';
import { sh } from '../ssh/quote.js';
import type { Remote } from '../ssh/remote.js';
import { classifyDbError, passwordOptionLine, redact } from './sql.js';
import type { ManagerDbErrorCode } from './types.js';

/** A database failure, classified (auth, unreachable, no-table…), with the client's stderr redacted. */
export class ManagerDbError extends HostError {
  override name = 'ManagerDbError';
  constructor(
    host: string,
    readonly code: ManagerDbErrorCode,
    shortMessage: string,
    hint?: string,
    detail?: string,
  ) {
    super(host, 'command', shortMessage, hint, detail);
  }
}

export const dbTarget = (db: ManagerDb) => `${db.user}@${db.host}:${db.port}/${db.database}`;

/** What to do next, per kind of failure. */
export function dbErrorHint(code: ManagerDbErrorCode, db: ManagerDb | undefined, table: string): string {
  switch (code) {
    case 'not-configured':
      return 'add vars.managerDb (host, port, user, database, passwordEnv) to the inventory';
    case 'no-password':
      return `export ${db?.passwordEnv ?? 'CERTROLL_DB_PASSWORD'} with the password of ${db ? dbTarget(db) : 'the database user'} (it is never read from the command line)`;
    case 'no-client':
      return 'install the mysql or mariadb client on the Manager host (certroll runs it there, with the password on stdin)';
    case 'auth':
      return `check ${db?.passwordEnv ?? 'the password variable'} and the user ${db?.user ?? ''}'s grants for connections from the Manager host`;
    case 'unreachable':
      return `check that the database server listens on ${db ? `${db.host}:${db.port}` : 'the configured address'} as seen from the Manager host (vars.managerDb.host/port)`;
    case 'no-database':
      return 'check vars.managerDb.database';
    case 'no-table':
    case 'bad-table':
      return `the database has no usable table ${table}(key, value); check vars.managerDb.database and the step's table parameter`;
    case 'denied':
      return `grant ${db?.user ?? 'the user'} SELECT, CREATE, INSERT and UPDATE on the database`;
    default:
      return 'see the error above; nothing was changed by this query';
  }
}

export interface SqlOptions {
  timeoutMs?: number;
  /** Name of the table the query is about (for messages). */
  table?: string;
}

/**
 * Run `sql` with the mysql (or mariadb) client on `remote`, connecting over TCP to db.host:db.port as the Manager host sees it.
 * stdin carries the `[client] password=…` line first (fed to the client as --defaults-extra-file=/dev/fd/3 through a
 * here-document, so it is never on a command line nor in a file of ours), then the SQL. Returns the client's stdout.
 */
export async function runSql(remote: Remote, db: ManagerDb, password: Secret<string>, sql: string, opts: SqlOptions = {}): Promise<string> {
  const script = sh`IFS= read -r certroll_pw || { echo 'certroll: no password line on stdin' >&2; exit 90; }
certroll_client=$(command -v mariadb || command -v mysql) || { echo 'certroll: neither the mariadb nor the mysql client is installed' >&2; exit 91; }
"$certroll_client" --defaults-extra-file=/dev/fd/3 --protocol=TCP --connect-timeout=10 --batch --skip-column-names --default-character-set=utf8mb4 -h ${db.host} -P ${String(db.port)} -u ${db.user} -D ${db.database} 3<<CERTROLL_OPTIONS
[client]
$certroll_pw
CERTROLL_OPTIONS`;
  const stdin = passwordOptionLine(password.reveal()) + '\n' + sql;
  let r;
  try {
    r = await remote.sh(script, { stdin, allowFailure: true, timeoutMs: opts.timeoutMs ?? 60_000 });
  } catch (e) {
    if (e instanceof HostError) throw new ManagerDbError(remote.host, 'ssh', `${remote.host}: could not run the database client: ${redact(e.shortMessage)}`, e.hint);
    throw e;
  }
  if (r.exitCode !== 0) {
    const code = classifyDbError(r.exitCode, r.stderr);
    const err = redact(r.stderr.trim().split('\n').filter(Boolean).slice(-3).join(' | ')) || `exit ${r.exitCode}`;
    throw new ManagerDbError(remote.host, code, `${remote.host}: database ${dbTarget(db)}: ${err}`, dbErrorHint(code, db, opts.table ?? 'manager_info'));
  }
  return r.stdout;
}

/** The database password from the environment variable the inventory names (vars.managerDb.passwordEnv); null when unset. */
export function managerDbPassword(db: ManagerDb, env: NodeJS.ProcessEnv = process.env): Secret<string> | null {
  const v = env[db.passwordEnv];
  return v === undefined || v === '' ? null : new Secret(v);
}
