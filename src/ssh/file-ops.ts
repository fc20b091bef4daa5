// File operations on one host: one FileOps interface, implemented over SFTP or over exec (the scripts of ./exec-transfer.ts), chosen once per connection.
import { randomBytes } from 'node:crypto';
import { basename, dirname } from 'node:path';
import type { SFTPWrapper, Stats } from 'ssh2';
import { HostError } from '../errors.js';
import { mkdirScript, parseStatOutput, readScript, renameScript, statScript, writeAtomicScript } from './exec-transfer.js';
import type { ExecSession } from './exec.js';
import type { Remote, RemoteStat, WriteOptions } from './remote.js';

const SFTP_NO_SUCH_FILE = 2;
const SFTP_CHUNK = 32 * 1024;

/** The file half of Remote, and how it travels. */
export interface FileOps extends Pick<Remote, 'readFile' | 'writeFileAtomic' | 'rename' | 'stat' | 'mkdir'> {
  readonly kind: 'sftp' | 'exec';
}

/** Runs a shell script on the host (through sudo on become hosts) and returns its stdout; rejects with a HostError. */
export type ScriptRunner = (script: string, stdin?: Buffer) => Promise<Buffer>;

/** Default permission bits of a written file: 0600 for anything called *key*, else 0644. */
export function defaultFileMode(path: string): number {
  return /key/i.test(basename(path)) ? 0o600 : 0o644;
}

/** A temporary name beside `path`, so the final rename stays within one filesystem. */
export function tempNameFor(path: string): string {
  return `${path}.certroll-tmp-${randomBytes(6).toString('hex')}`;
}

/** Files through exec: `cat`, `stat`, `mkdir`, `mv` scripts. Used for become hosts, fileTransfer 'exec' and hosts without SFTP. */
export class ExecFileOps implements FileOps {
  readonly kind = 'exec';

  constructor(private readonly script: ScriptRunner) {}

  readFile(path: string): Promise<Buffer> {
    return this.script(readScript(path));
  }

  async writeFileAtomic(path: string, data: Buffer | string, opts: WriteOptions = {}): Promise<void> {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
    await this.script(writeAtomicScript(path, tempNameFor(path), opts.mode ?? defaultFileMode(path), opts.uid, opts.gid), buf);
  }

  async rename(from: string, to: string): Promise<void> {
    await this.script(renameScript(from, to));
  }

  async stat(path: string): Promise<RemoteStat | null> {
    return parseStatOutput(path, (await this.script(statScript(path))).toString('utf8'));
  }

  async mkdir(path: string, opts: { mode?: number; recursive?: boolean } = {}): Promise<void> {
    await this.script(mkdirScript(path, opts));
  }
}

/** Files through the connection's one SFTP session; rename falls back to `mv` where the server lacks posix-rename. */
export class SftpFileOps implements FileOps {
  readonly kind = 'sftp';
  readonly #host: string;

  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly session: ExecSession,
  ) {
    this.#host = session.host;
  }

  #call<T>(what: string, path: string, call: (cb: (err: (Error & { code?: number }) | undefined | null, v?: T) => void) => void): Promise<T> {
    return this.session.track<T>(`${what} ${path}`, (resolve, reject) => {
      this.session.counters.roundTrips++;
      call((err, v) => {
        if (err) {
          const e = new HostError(this.#host, 'transfer', `${this.#host}: SFTP ${what} ${path} failed: ${err.message}`,
            `check that ${this.session.hostInfo.ssh.user} may do this on ${this.#host}, or set become: true`);
          (e as HostError & { sftpCode?: number }).sftpCode = err.code;
          return reject(e);
        }
        resolve(v as T);
      });
    });
  }

  async readFile(path: string): Promise<Buffer> {
    const sftp = this.sftp;
    const handle = await this.#call<Buffer>('open', path, (cb) => sftp.open(path, 'r', cb));
    try {
      const parts: Buffer[] = [];
      let pos = 0;
      for (;;) {
        const buf = Buffer.alloc(SFTP_CHUNK);
        const n = await this.session.track<number>(`reading ${path}`, (resolve, reject) => {
          this.session.counters.roundTrips++;
          sftp.read(handle, buf, 0, SFTP_CHUNK, pos, (err, bytesRead) => {
            if (err && (err as Error & { code?: number }).code === 1) return resolve(0); // EOF
            if (err) return reject(new HostError(this.#host, 'transfer', `${this.#host}: SFTP read ${path} failed: ${err.message}`));
            resolve(bytesRead);
          });
        });
        if (n === 0) break;
        parts.push(buf.subarray(0, n));
        pos += n;
      }
      return Buffer.concat(parts);
    } finally {
      await this.#call<void>('close', path, (cb) => sftp.close(handle, cb)).catch(() => undefined);
    }
  }

  async writeFileAtomic(path: string, data: Buffer | string, opts: WriteOptions = {}): Promise<void> {
    const sftp = this.sftp;
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
    const mode = opts.mode ?? defaultFileMode(path);
    const tmp = tempNameFor(path);
    const handle = await this.#call<Buffer>('create', tmp, (cb) => sftp.open(tmp, 'wx', { mode: 0o600 }, cb));
    let open = true;
    try {
      const writes: Promise<void>[] = [];
      for (let off = 0; off < buf.length; off += SFTP_CHUNK) {
        const len = Math.min(SFTP_CHUNK, buf.length - off);
        const at = off;
        writes.push(this.#call<void>('write', tmp, (cb) => sftp.write(handle, buf, at, len, at, cb)));
      }
      await Promise.all(writes);
      if (opts.uid !== undefined || opts.gid !== undefined) {
        let { uid, gid } = opts;
        if (uid === undefined || gid === undefined) {
          const st = await this.#call<Stats>('fstat', tmp, (cb) => sftp.fstat(handle, cb));
          uid ??= st.uid;
          gid ??= st.gid;
        }
        await this.#call<void>('chown', tmp, (cb) => sftp.fchown(handle, uid!, gid!, cb));
      }
      await this.#call<void>('chmod', tmp, (cb) => sftp.fchmod(handle, mode, cb));
      try {
        await this.#call<void>('fsync', tmp, (cb) => sftp.ext_openssh_fsync(handle, cb));
      } catch (err) {
        if (!(err instanceof Error && /does not support/.test(err.message))) throw err;
      }
      open = false;
      await this.#call<void>('close', tmp, (cb) => sftp.close(handle, cb));
      await this.rename(tmp, path);
    } catch (err) {
      if (open) await this.#call<void>('close', tmp, (cb) => sftp.close(handle, cb)).catch(() => undefined);
      if (this.session.state === 'ready') await this.#call<void>('unlink', tmp, (cb) => sftp.unlink(tmp, cb)).catch(() => undefined);
      throw err;
    }
  }

  async rename(from: string, to: string): Promise<void> {
    try {
      await this.#call<void>('rename', `${from} → ${to}`, (cb) => this.sftp.ext_openssh_rename(from, to, cb));
    } catch (err) {
      // Without posix-rename@openssh.com, SFTP rename refuses to replace a file: use mv.
      if (err instanceof Error && /does not support/.test(err.message)) {
        await this.session.script(renameScript(from, to));
        return;
      }
      throw err;
    }
  }

  async stat(path: string): Promise<RemoteStat | null> {
    try {
      const st = await this.#call<Stats>('stat', path, (cb) => this.sftp.stat(path, cb));
      return {
        path,
        size: st.size,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtimeMs: st.mtime * 1000,
        isDirectory: st.isDirectory(),
        isFile: st.isFile(),
      };
    } catch (err) {
      if ((err as { sftpCode?: number }).sftpCode === SFTP_NO_SUCH_FILE) return null;
      throw err;
    }
  }

  async mkdir(path: string, opts: { mode?: number; recursive?: boolean } = {}): Promise<void> {
    const attrs = opts.mode !== undefined ? { mode: opts.mode } : {};
    try {
      await this.#call<void>('mkdir', path, (cb) => this.sftp.mkdir(path, attrs, cb));
      if (opts.mode !== undefined) await this.#call<void>('chmod', path, (cb) => this.sftp.chmod(path, opts.mode!, cb));
    } catch (err) {
      if (!opts.recursive) throw err;
      const code = (err as { sftpCode?: number }).sftpCode;
      if (code === SFTP_NO_SUCH_FILE && dirname(path) !== path) {
        await this.mkdir(dirname(path), { recursive: true });
        return this.mkdir(path, { ...opts, recursive: false });
      }
      const st = await this.stat(path);
      if (st?.isDirectory) return;
      throw err;
    }
  }
}

/**
 * The host's FileOps, chosen once: SFTP unless fileTransfer is 'exec', the host is a become host (SFTP would run as the
 * login user) or the server has no SFTP subsystem (then a note says so, and exec is used).
 */
export async function openFileOps(session: ExecSession, fileTransfer: 'auto' | 'exec', notes: string[]): Promise<FileOps> {
  const viaExec = () => new ExecFileOps((script, stdin) => session.script(script, stdin));
  if (fileTransfer === 'exec') return viaExec();
  if ((await session.becomeMode()) !== 'none') return viaExec();
  try {
    const sftp = await session.track<SFTPWrapper>('opening SFTP', (resolve, reject) => {
      session.counters.roundTrips++;
      session.client.sftp((err, s) => (err ? reject(err) : resolve(s)));
    });
    return new SftpFileOps(sftp, session);
  } catch (err) {
    if (err instanceof HostError) throw err;
    const note = `${session.host}: no SFTP subsystem (${(err as Error).message}); files are transferred with cat over exec`;
    notes.push(note);
    session.emit({ type: 'sftp-unavailable', host: session.host, note });
    return viaExec();
  }
}
