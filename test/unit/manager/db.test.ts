// manager_info on a real MariaDB, through the mysql client: facts read-only, backup table, one-transaction update read back byte for byte, restore.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { parseInventory } from '../../../src/inventory/load.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { Secret } from '../../../src/secret.js';
import { gatherManagerFacts } from '../../../src/manager/facts.js';
import { runSql, ManagerDbError, managerDbPassword } from '../../../src/manager/mysql.js';
import { backupDb, currentRows, updateDbRows, restoreManagerDb, type DbConn } from '../../../src/manager/db.js';
import { backupTableName, rowValueOf, updateSql } from '../../../src/manager/sql.js';
import { sha256 } from '../../../src/hash.js';

/** Spelled in two parts so that no tracked file holds a literal PEM key header. */
const PRIVATE_KEY = ['PRIVATE', 'KEY'].join(' ');
import { startMariadb, type TestMariadb } from './support.js';
import { LocalRemote } from '../../support/local-remote.js';
import { managerSeedSql } from '../../../lab/src/manager-seed.js';

/** A password with every character an option file or a shell could trip on. */
const PASSWORD = `p"a\\s's w$(id)#;\`x\``;
const KEYS = ['etcd-ca.pem', 'etcd.pem', 'etcd-key.pem'];
const RUN = '20261123T101941Z-AB12cd';

function pemPair(cn: string): { cert: string; key: string } {
  const out = execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '-', '-out', '-', '-subj', `/CN=${cn}`, '-days', '2'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const key = new RegExp(`-----BEGIN ${PRIVATE_KEY}-----[\\s\\S]+?-----END ${PRIVATE_KEY}-----\\n`).exec(out)![0];
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(out)![0];
  return { cert, key };
}

let db: TestMariadb;
let conn: DbConn;
const remote = new LocalRemote('mgr');
const old = { ca: pemPair('old-ca'), leaf: pemPair('old-leaf') };
const fresh = { ca: pemPair('new-ca'), leaf: pemPair('new-leaf') };
const oldRows = { 'etcd-ca.pem': rowValueOf(old.ca.cert), 'etcd.pem': rowValueOf(old.leaf.cert), 'etcd-key.pem': rowValueOf(old.leaf.key), 'cluster.name': 'lab', 'tos.version': 'tos-2.1' };
const inventoryText = (port: number, host: string) =>
  [
    `vars: { managerDb: { host: ${host}, port: ${port}, user: manager, database: manager, passwordEnv: TEST_MGR_PW } }`,
    'ssh: { identityFile: /tmp/id, knownHostsFile: /tmp/kh }',
    'hosts:',
    '  m1: { address: 10.9.0.1 }',
    '  mgr: { address: 10.9.0.9 }',
    'groups:',
    '  master: [m1]',
    '  etcd: [m1]',
    '  manager: [mgr]',
  ].join('\n');
const playbook = parsePlaybook('name: t\nsteps:\n  - type: preflight\n  - type: backup\n  - type: manager-db\n', 'pb.yaml');

beforeAll(async () => {
  db = await startMariadb();
  conn = { db: { host: db.address, port: db.port, user: 'manager', database: 'manager', passwordEnv: 'TEST_MGR_PW' }, password: new Secret(PASSWORD), table: 'manager_info' };
});
afterAll(async () => {
  await db?.remove();
});
beforeEach(async () => {
  await db.root(managerSeedSql(PASSWORD, oldRows));
  remote.log.length = 0;
});

const dump = async (table = 'manager_info') => Object.fromEntries((await db.root(`SELECT \`key\`, TO_BASE64(\`value\`) FROM manager.${table} ORDER BY 1;`)).trim().split('\n').map((l) => l.split('\t')).map(([k, v]) => [k, Buffer.from(v!.replace(/\\n/g, ''), 'base64').toString('utf8')]));

describe('the mysql client on the Manager host', () => {
  it('connects with a password full of quotes, backslashes, $ and #, which travels on stdin only', async () => {
    const out = await runSql(remote, conn.db, conn.password, "SELECT '@@one', 1;\n");
    expect(out).toContain('@@one\t1');
    expect(remote.log).toHaveLength(1);
    expect(remote.log[0]!.script).not.toContain(PASSWORD);
    expect(remote.log[0]!.script).not.toContain('p"a');
    expect(remote.log[0]!.stdin).toContain('password=');
  });

  it('a wrong password is an auth error that names the variable to fix, and never shows the password', async () => {
    const e = await runSql(remote, conn.db, new Secret('wrong'), "SELECT 1;\n").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ManagerDbError);
    expect((e as ManagerDbError).code).toBe('auth');
    expect((e as ManagerDbError).hint).toContain('TEST_MGR_PW');
    expect((e as Error).message).not.toContain('wrong');
  });

  it('a port where nothing listens is "unreachable"', async () => {
    const e = await runSql(remote, { ...conn.db, port: db.port + 1 }, conn.password, 'SELECT 1;\n').catch((x: unknown) => x);
    expect((e as ManagerDbError).code).toBe('unreachable');
  });

  it('the password variable comes from the environment, unset → null', () => {
    expect(managerDbPassword(conn.db, { TEST_MGR_PW: 'x' })?.reveal()).toBe('x');
    expect(managerDbPassword(conn.db, {})).toBeNull();
  });
});

describe('facts: a read-only look at manager_info', () => {
  const inv = () => parseInventory(inventoryText(db.port, db.address), 'inv.yaml');
  it('reports each managed row by sha256 and length, the engine, and no backup tables; changes nothing', async () => {
    const before = await dump();
    const f = await gatherManagerFacts(inv(), playbook, { remote: () => remote, env: { TEST_MGR_PW: PASSWORD } });
    expect(f?.db?.ok).toBe(true);
    expect(f!.db!.rows['etcd-key.pem']).toEqual({ sha256: sha256(oldRows['etcd-key.pem']), size: Buffer.byteLength(oldRows['etcd-key.pem']) });
    expect(f!.db!.rows['etcd.pem']!.sha256).toBe(sha256(oldRows['etcd.pem']));
    expect(f!.db!.engine).toBe('InnoDB');
    expect(f!.db!.backupTables).toEqual([]);
    expect(JSON.stringify(f)).not.toContain('PRIVATE KEY');
    expect(await dump()).toEqual(before);
    expect((await db.root("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='manager';")).trim()).toBe('1');
  });

  it('wrong password, no password, server down, missing table: an error code and a message saying what to do', async () => {
    const env = { TEST_MGR_PW: 'nope' };
    expect((await gatherManagerFacts(inv(), playbook, { remote: () => remote, env }))!.db!.error!.code).toBe('auth');
    const none = (await gatherManagerFacts(inv(), playbook, { remote: () => remote, env: {} }))!.db!;
    expect(none.error).toMatchObject({ code: 'no-password' });
    expect(none.error!.message).toContain('export TEST_MGR_PW');
    await db.root('DROP TABLE manager.manager_info;');
    const noTable = (await gatherManagerFacts(inv(), playbook, { remote: () => remote, env: { TEST_MGR_PW: PASSWORD } }))!.db!;
    expect(noTable.error!.code).toBe('no-table');
    const down = parseInventory(inventoryText(db.port + 1, db.address), 'inv.yaml');
    expect((await gatherManagerFacts(down, playbook, { remote: () => remote, env: { TEST_MGR_PW: PASSWORD } }))!.db!.error!.code).toBe('unreachable');
  });

  it('no manager host in the inventory: nothing gathered', async () => {
    const text = inventoryText(db.port, db.address).replace('  manager: [mgr]', '  manager: []');
    expect((await gatherManagerFacts(parseInventory(text, 'i.yaml'), playbook, { remote: () => remote }))?.db).toBeUndefined();
  });
});

describe('backup, update, read back, restore', () => {
  const newValues = () => [
    { key: 'etcd-ca.pem', value: rowValueOf(fresh.ca.cert) },
    { key: 'etcd.pem', value: rowValueOf(fresh.leaf.cert) },
    { key: 'etcd-key.pem', value: new Secret(rowValueOf(fresh.leaf.key)) },
  ];
  const expectedOld = () => Object.fromEntries(KEYS.map((k) => [k, { sha256: sha256(oldRows[k as keyof typeof oldRows]), size: 0 }]));

  it('the backup table name is a plain lower-case identifier made from the run id', () => {
    expect(backupTableName('manager_info', RUN)).toBe('manager_info_bak_20261123t101941z_ab12cd');
    expect(backupTableName('manager_info', 'x'.repeat(80)).length).toBe(64);
  });

  it('copies the table into manager_info_bak_<run>, then updates the three rows to the exact PEM text, key included', async () => {
    const bak = backupTableName('manager_info', RUN);
    const check = await backupDb(remote, conn, bak, KEYS, expectedOld());
    expect(check).toMatchObject({ tableRows: 5, backupRows: 5 });
    const trips = remote.counters.roundTrips;
    await updateDbRows(remote, conn, newValues());
    // The transaction and the read-back are one client session: one round trip.
    expect(remote.counters.roundTrips - trips).toBe(1);
    const now = await dump();
    expect(now['etcd-ca.pem']).toBe(fresh.ca.cert.replace(/\n$/, ''));
    expect(now['etcd.pem']).toBe(fresh.leaf.cert.replace(/\n$/, ''));
    expect(now['etcd-key.pem']).toBe(fresh.leaf.key.replace(/\n$/, ''));
    expect(now['cluster.name']).toBe('lab');
    expect(await dump(bak)).toEqual(oldRows);
    // The key travelled inside the SQL on stdin (as hex), never on a command line.
    for (const l of remote.log) expect(l.script).not.toMatch(/PRIVATE KEY|[0-9A-F]{64}/);
  });

  it('refuses to take a backup over an existing table of the same name, leaving it as it was', async () => {
    const bak = backupTableName('manager_info', RUN);
    await backupDb(remote, conn, bak, KEYS, expectedOld());
    await db.root(`UPDATE manager.${bak} SET value='marker' WHERE \`key\`='cluster.name';`);
    const e = await backupDb(remote, conn, bak, KEYS, expectedOld()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ManagerDbError);
    expect((await dump(bak))['cluster.name']).toBe('marker');
  });

  it('a backup that does not hold the rows the plan saw is refused (rows changed since the plan)', async () => {
    const other = { ...expectedOld(), 'etcd.pem': { sha256: sha256('something else'), size: 1 } };
    await expect(backupDb(remote, conn, backupTableName('manager_info', 'r2'), KEYS, other)).rejects.toThrow(/differs from what the plan saw/);
  });

  it('the three updates are one transaction: when one fails, none is applied', async () => {
    await db.root('ALTER TABLE manager.manager_info MODIFY `value` varchar(2000);');
    const values = [
      { key: 'etcd-ca.pem', value: 'A'.repeat(100) },
      { key: 'etcd.pem', value: 'B'.repeat(5000) },
    ];
    await expect(runSql(remote, conn.db, conn.password, updateSql('manager_info', values))).rejects.toThrow(/Data too long|1406/);
    expect(await dump()).toEqual(oldRows);
    // updateDbRows (transaction and read-back in one session): the failed statement stops the session and is the error.
    await expect(updateDbRows(remote, conn, values)).rejects.toThrow(/Data too long|1406/);
    expect(await dump()).toEqual(oldRows);
  });

  it('restoreManagerDb puts the three rows back from the backup table, leaves other rows alone, and can run twice', async () => {
    const bak = backupTableName('manager_info', RUN);
    await backupDb(remote, conn, bak, KEYS, expectedOld());
    await updateDbRows(remote, conn, newValues());
    await db.root("UPDATE manager.manager_info SET value='changed later' WHERE `key`='cluster.name';");
    const r = await restoreManagerDb(remote, { db: conn.db, password: conn.password, runId: RUN });
    expect(r).toEqual({ backup: bak, found: true, restored: expect.arrayContaining(KEYS) });
    const now = await dump();
    for (const k of KEYS) expect(now[k]).toBe(oldRows[k as keyof typeof oldRows]);
    expect(now['cluster.name']).toBe('changed later');
    expect((await restoreManagerDb(remote, { db: conn.db, password: conn.password, runId: RUN })).found).toBe(true);
    expect(await currentRows(remote, conn, KEYS)).toEqual(Object.fromEntries(KEYS.map((k) => [k, { sha256: sha256(oldRows[k as keyof typeof oldRows]), size: Buffer.byteLength(oldRows[k as keyof typeof oldRows]) }])));
  });

  it('restoreManagerDb for a run that never reached the database step: nothing to do', async () => {
    expect(await restoreManagerDb(remote, { db: conn.db, password: conn.password, runId: 'never-ran' })).toEqual({ backup: 'manager_info_bak_never_ran', found: false, restored: [] });
    expect(await dump()).toEqual(oldRows);
  });
});
