// Test support for the Manager module: a throwaway real MariaDB server in a temp dir, and a Remote that runs sh on this machine.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdtemp, readFile, rename, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ExecOptions, ExecResult, Remote, RemoteStat, WriteOptions } from '../../../src/ssh/remote.js';
import { HostError } from '../../../src/errors.js';
import { quoteArgv } from '../../../src/ssh/quote.js';

const run = promisify(execFile);

/** A Remote for "this machine": sh -c with stdin, plain fs calls. The SSH transport is tested elsewhere; here what matters is the shell and mysql. */
export class LocalRemote implements Remote {
  readonly address = '127.0.0.1';
  readonly counters = { connections: 0, roundTrips: 0 };
  /** Every script run, with its stdin: tests check that no secret reaches a command line. */
  readonly log: Array<{ script: string; stdin?: string }> = [];
  constructor(readonly host = 'local') {}
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return this.sh(quoteArgv(argv), opts);
  }
  sh(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.counters.roundTrips++;
    this.log.push({ script, ...(opts.stdin !== undefined ? { stdin: opts.stdin.toString() } : {}) });
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
      const p = spawn('/bin/sh', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.stdin.on('error', () => undefined); // a script that exits without reading stdin
      p.stdin.end(opts.stdin ?? '');
      p.on('error', reject);
      p.on('close', (code, signal) => {
        const r: ExecResult = { host: this.host, command: script, exitCode: code, signal, stdout, stderr, durationMs: Date.now() - t0 };
        if (code !== 0 && !opts.allowFailure) return reject(new HostError(this.host, 'command', `${this.host}: command failed (exit ${code}): ${stderr.trim()}`));
        resolve(r);
      });
    });
  }
  async readFile(path: string): Promise<Buffer> {
    return readFile(path);
  }
  async writeFileAtomic(path: string, data: Buffer | string, opts: WriteOptions = {}): Promise<void> {
    const tmp = `${path}.certroll-tmp-${process.pid}`;
    await writeFile(tmp, data, { mode: 0o600 });
    if (opts.uid !== undefined || opts.gid !== undefined) await chown(tmp, opts.uid ?? -1, opts.gid ?? -1);
    await chmod(tmp, opts.mode ?? 0o644);
    await rename(tmp, path);
  }
  async rename(from: string, to: string): Promise<void> {
    await rename(from, to);
  }
  async stat(path: string): Promise<RemoteStat | null> {
    try {
      const s = await stat(path);
      return { path, size: s.size, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, mtimeMs: s.mtimeMs, isDirectory: s.isDirectory(), isFile: s.isFile() };
    } catch {
      return null;
    }
  }
  async mkdir(path: string, opts: { mode?: number; recursive?: boolean } = {}): Promise<void> {
    await mkdir(path, { recursive: opts.recursive ?? false, mode: opts.mode ?? 0o755 });
  }
  async close(): Promise<void> {}
}

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
