// Test support for the Manager module: a throwaway real MariaDB server in a temp dir (LocalRemote is in test/support/local-remote.ts).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestMariadb {
  address: string;
  port: number;
  dir: string;
  /** Run SQL as root over the socket (test setup and independent checks). */
  root(sql: string): Promise<string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  remove(): Promise<void>;
}

function listening(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** A real mariadbd (Debian's mariadb-server) with its own datadir, listening on address:port, root by unix socket. */
export async function startMariadb(address = '127.0.68.1', port = 33068): Promise<TestMariadb> {
  if (userInfo().uid !== 0) throw new Error('the MariaDB tests need root (mariadbd runs as user mysql)');
  const dir = await mkdtemp(join(tmpdir(), 'certroll-mariadb-'));
  const { stdout } = await run('id', ['-u', 'mysql']);
  const { stdout: g } = await run('id', ['-g', 'mysql']);
  await chown(dir, Number(stdout), Number(g));
  const cnf = join(dir, 'my.cnf');
  await writeFile(
    cnf,
    ['[mysqld]', 'user = mysql', `datadir = ${dir}/data`, `socket = ${dir}/sock`, `pid-file = ${dir}/pid`, `bind-address = ${address}`, `port = ${port}`, 'skip-name-resolve', `log-error = ${dir}/err.log`, 'innodb_buffer_pool_size = 16M', 'performance_schema = OFF', ''].join('\n'),
  );
  await run('mariadb-install-db', [`--defaults-file=${cnf}`, '--user=mysql', '--auth-root-authentication-method=socket', '--skip-test-db'], { maxBuffer: 1 << 24 });
  let proc: ChildProcess | undefined;
  const db: TestMariadb = {
    address,
    port,
    dir,
    async root(sql) {
      return new Promise((resolve, reject) => {
        const p = spawn('mysql', ['-S', `${dir}/sock`, '-uroot', '--batch', '--skip-column-names'], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (err += d));
        p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`mysql: ${err}`))));
        p.stdin.end(sql);
      });
    },
    async start() {
      proc = spawn('/usr/sbin/mariadbd', [`--defaults-file=${cnf}`], { stdio: 'ignore', detached: true });
      for (let i = 0; i < 300; i++) {
        if (await listening(address, port)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`mariadbd did not start: ${await readFile(join(dir, 'err.log'), 'utf8').catch(() => '')}`);
    },
    async stop() {
      if (!proc) return;
      const p = proc;
      proc = undefined;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    },
    async remove() {
      await db.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await db.start();
  return db;
}
