// The Remote implementation: one ssh2 connection per host, checked against known_hosts, reused for every exec and file transfer.
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { basename, dirname, posix } from 'node:path';
import pLimit from 'p-limit';
import type { ClientChannel, ConnectConfig, SFTPWrapper, Stats } from 'ssh2';
import type ssh2Module from 'ssh2';
import { lazyRequire } from '../lazy.js';

// ssh2 is CommonJS: take its members from the default export (named imports fail under plain Node ESM).
const ssh2 = lazyRequire<typeof ssh2Module>('ssh2');
type Client = InstanceType<typeof ssh2Module.Client>;
import { HostError } from '../errors.js';
import type { Host } from '../inventory/types.js';
import { CredentialStore, makeAuthHandler } from './auth.js';
import { mkdirScript, parseStatOutput, readScript, renameScript, statScript, writeAtomicScript } from './exec-transfer.js';
import { connectFailure, connectionClosed } from './host-errors.js';
import { tunnelThroughBastions } from './bastion.js';
import {
  appendKnownHost,
  checkHostKey,
  fingerprintSha256,
  hostKeyAlgorithmsFor,
  knownHostsName,
  knownKeyTypes,
  type HostKeyVerdict,
} from './known-hosts.js';
import { defaultConnectOptions, envNames, type ConnectOptions, type SshEvent } from './options.js';
import { quote, quoteArgv } from './quote.js';
import type { ExecOptions, ExecResult, Remote, RemoteStat, TransportCounters, WriteOptions } from './remote.js';

/** Lifecycle of one connection. */
export type ConnectionState = 'ready' | 'lost' | 'closed';

/** How remote commands get root: not at all, `sudo -n`, or `sudo -S` with the password on stdin. */
export type BecomeMode = 'none' | 'sudo-nopasswd' | 'sudo-password';

/** Host key algorithms ssh2 can verify, in its default preference order. */
const SUPPORTED_HOST_KEY_ALGOS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

const SFTP_NO_SUCH_FILE = 2;
const SFTP_CHUNK = 32 * 1024;
const STDERR_TAIL = 2000;
const CHANNEL_OPEN_ATTEMPTS = 10;

/** The server refused to open a session channel (usually MaxSessions reached for a moment). */
class ChannelRefused extends Error {}

/** Expand a leading `~/` (the inventory loader normally has already). */
export function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? posix.join(homedir(), p.slice(2)) : p;
}

/** Default permission bits of a written file: 0600 for anything called *key*, else 0644. */
export function defaultFileMode(path: string): number {
  return /key/i.test(basename(path)) ? 0o600 : 0o644;
}

/** A temporary name beside `path`, so the final rename stays within one filesystem. */
export function tempNameFor(path: string): string {
  return `${path}.certroll-tmp-${randomBytes(6).toString('hex')}`;
}

interface RawResult {
  exitCode: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
}

function hostKeyError(host: Host, verdict: HostKeyVerdict, presented: Buffer, file: string): HostError {
  const name = host.name;
  const fp = fingerprintSha256(presented);
  const lookup = knownHostsName(host.address, host.ssh.port);
  const fix = `ssh-keygen -f ${quote(file)} -R ${quote(lookup)}`;
  switch (verdict.status) {
    case 'changed': {
      const lines = verdict.expected.map((e) => `${file}:${e.line} (${e.keyType} ${fingerprintSha256(e.key)})`).join(', ');
      return new HostError(name, 'host-key',
        `${name}: HOST KEY CHANGED for ${lookup}: it presents ${fp}, known_hosts expects ${lines}`,
        `if the host was reinstalled on purpose, verify the new fingerprint out of band, remove the old entry with \`${fix}\` and run again with --accept-new-host-keys; otherwise someone may be intercepting the connection`);
    }
    case 'revoked':
      return new HostError(name, 'host-key', `${name}: host key ${fp} of ${lookup} is marked @revoked in ${file}:${verdict.entry.line}`,
        'the host must get a new host key; never accept the revoked one');
    case 'unknown':
      return new HostError(name, 'host-key',
        `${name}: host key of ${lookup} is unknown (${fp}); not in ${file}` +
          (verdict.certAuthorityOnly ? ' (only a @cert-authority line matches, and host certificates are not supported)' : ''),
        `verify the fingerprint (on the host: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then run again with --accept-new-host-keys, or add it with: ssh-keyscan -p ${host.ssh.port} ${quote(host.address)} >> ${quote(file)}`);
    default:
      return new HostError(name, 'host-key', `${name}: host key check failed for ${lookup}`);
  }
}

/**
 * Open the connection to one host and return it ready for use.
 * Rejects with a HostError (dns, connect, timeout, auth, host-key); never leaves a socket open behind it.
 */
export async function connect(host: Host, options: Partial<ConnectOptions> = {}, store?: CredentialStore): Promise<SshRemote> {
  const opts: ConnectOptions = { ...defaultConnectOptions, ...options };
  const creds = store ?? new CredentialStore(opts);
  const emit = (e: SshEvent) => opts.onEvent?.(e);
  const started = Date.now();
  emit({ type: 'connecting', host: host.name, address: host.address, port: host.ssh.port });
  try {
    const remote = await openClient(host, opts, creds);
    emit({ type: 'connected', host: host.name, durationMs: Date.now() - started });
    return remote;
  } catch (err) {
    const he = err instanceof HostError ? err : connectFailure(host, err as Error, []);
    emit({ type: 'connect-failed', host: host.name, kind: he.kind, message: he.shortMessage });
    throw he;
  }
}

async function openClient(host: Host, opts: ConnectOptions, creds: CredentialStore): Promise<SshRemote> {
  if (!host.ssh.jumps?.length) return new SshRemote(host, await handshake(host, opts, creds), opts, creds);
  // Behind bastions: a channel through the (shared) bastion connection carries this host's SSH session.
  const tunnel = await tunnelThroughBastions(host, opts, creds, handshake);
  try {
    const client = await handshake(host, opts, creds, tunnel.sock);
    const remote = new SshRemote(host, client, opts, creds);
    client.once('close', tunnel.release);
    return remote;
  } catch (err) {
    tunnel.release();
    throw err;
  }
}

/** The SSH handshake with one host (or bastion hop): host key checked against known_hosts, then authentication. */
export async function handshake(host: Host, opts: ConnectOptions, creds: CredentialStore, sock?: NodeJS.ReadableStream & NodeJS.WritableStream): Promise<Client> {
  const knownHostsFile = expandHome(host.ssh.knownHostsFile);
  const entries = await creds.knownHosts(knownHostsFile);
  const serverHostKey = hostKeyAlgorithmsFor(knownKeyTypes(entries, host.address, host.ssh.port), SUPPORTED_HOST_KEY_ALGOS);
  const identity = host.ssh.identityFile ? await creds.identity(host.name, expandHome(host.ssh.identityFile)) : undefined;
  // More identity files from the OpenSSH config: tried after the first; one that cannot be read or decrypted is skipped.
  const more: Array<{ file: string; key: Awaited<ReturnType<CredentialStore['identity']>> }> = [];
  for (const file of host.ssh.identityFiles ?? []) {
    const key = await creds.identity(host.name, expandHome(file)).catch(() => undefined);
    if (key) more.push({ file, key });
  }
  const { handler, tried } = makeAuthHandler(host, creds, opts.env, identity, more);

  const client = new ssh2.Client();
  let hostKeyFailure: HostError | undefined;

  const hostVerifier = (key: Buffer, verify: (ok: boolean) => void): void => {
    void (async () => {
      const verdict = checkHostKey(await creds.knownHosts(knownHostsFile), host.address, host.ssh.port, key);
      if (verdict.status === 'known') return verify(true);
      if (verdict.status === 'unknown' && opts.acceptNewHostKeys) {
        await appendKnownHost(knownHostsFile, host.address, host.ssh.port, key);
        creds.forgetKnownHosts(knownHostsFile);
        opts.onEvent?.({ type: 'host-key-added', host: host.name, fingerprint: fingerprintSha256(key), file: knownHostsFile });
        return verify(true);
      }
      hostKeyFailure = hostKeyError(host, verdict, key, knownHostsFile);
      verify(false);
    })().catch((err: Error) => {
      hostKeyFailure = new HostError(host.name, 'host-key', `${host.name}: cannot check the host key against ${knownHostsFile}: ${err.message}`,
        'check that the known_hosts file is readable and writable');
      verify(false);
    });
  };

  const config: ConnectConfig = {
    host: host.address,
    port: host.ssh.port,
    username: host.ssh.user,
    readyTimeout: host.ssh.connectTimeout * 1000,
    keepaliveInterval: host.ssh.serverAliveInterval !== undefined ? host.ssh.serverAliveInterval * 1000 : opts.keepaliveIntervalMs,
    keepaliveCountMax: opts.keepaliveCountMax,
    hostVerifier: hostVerifier as ConnectConfig['hostVerifier'],
    authHandler: handler,
    algorithms: { serverHostKey: serverHostKey as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
    ...(sock ? { sock: sock as unknown as ConnectConfig['sock'] } : {}),
  };

  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      client.removeListener('ready', onReady);
      client.end();
      client.destroy();
      reject(hostKeyFailure ?? connectFailure(host, err, tried));
    };
    const onReady = () => {
      if (settled) return;
      settled = true;
      resolve();
    };
    client.on('ready', onReady);
    client.on('error', (err: Error & { level?: string }) => {
      // ssh2 reports a failing agent or key signature as an error and then tries the next method: not fatal.
      if (err.level === 'agent') return;
      fail(err);
    });
    client.on('close', () => fail(new Error('connection closed during the SSH handshake')));
    try {
      client.connect(config);
    } catch (err) {
      fail(err as Error);
    }
  });
  return client;
}

/** One host's live SSH connection (the Remote every other module uses). */
export class SshRemote implements Remote {
  readonly host: string;
  readonly address: string;
  readonly counters: TransportCounters = { connections: 1, roundTrips: 0 };
  /** Things the CLI should show once, e.g. that SFTP is unavailable and exec is used instead. */
  readonly notes: string[] = [];
  #state: ConnectionState = 'ready';
  #lostCause?: string;
  readonly #pending = new Set<(err: HostError) => void>();
  readonly #channels: ReturnType<typeof pLimit>;
  #sftp?: Promise<SFTPWrapper | null>;
  #become?: Promise<BecomeMode>;
  #closed?: Promise<void>;

  constructor(
    readonly hostInfo: Host,
    private readonly client: Client,
    private readonly opts: ConnectOptions,
    private readonly creds: CredentialStore,
  ) {
    this.host = hostInfo.name;
    this.address = hostInfo.address;
    this.#channels = pLimit(Math.max(1, opts.maxChannels));
    client.removeAllListeners('error');
    client.removeAllListeners('close');
    client.on('error', (err: Error) => {
      this.#lostCause = err.message;
    });
    const onGone = () => this.#markGone();
    client.on('end', onGone);
    client.on('close', onGone);
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** How file operations travel: 'sftp', or 'exec' for become hosts, fileTransfer 'exec', or hosts without SFTP. */
  async fileTransport(): Promise<'sftp' | 'exec'> {
    return (await this.#sftpOrNull()) ? 'sftp' : 'exec';
  }

  #emit(e: SshEvent): void {
    this.opts.onEvent?.(e);
  }

  #markGone(): void {
    if (this.#state !== 'ready') return;
    this.#state = 'lost';
    this.#emit({ type: 'connection-lost', host: this.host, message: this.#lostCause ?? 'connection closed' });
    this.#rejectAll(this.#lostCause);
  }

  #rejectAll(cause?: string): void {
    const rejecters = [...this.#pending];
    this.#pending.clear();
    for (const r of rejecters) r(connectionClosed(this.host, 'waiting for a reply', cause));
  }

  /** Run `fn` as one pending request: it is rejected with HostError 'closed' if the connection goes away first. */
  #track<T>(what: string, fn: (resolve: (v: T) => void, reject: (e: Error) => void) => void): Promise<T> {
    if (this.#state !== 'ready') return Promise.reject(connectionClosed(this.host, what, this.#lostCause ?? this.#state));
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const onLost = (err: HostError) => {
        if (done) return;
        done = true;
        reject(connectionClosed(this.host, what, err.message.includes('(') ? this.#lostCause : undefined));
      };
      this.#pending.add(onLost);
      const finish = () => {
        done = true;
        this.#pending.delete(onLost);
      };
      try {
        fn(
          (v) => {
            if (done) return;
            finish();
            resolve(v);
          },
          (e) => {
            if (done) return;
            finish();
            reject(e);
          },
        );
      } catch (e) {
        if (!done) {
          finish();
          reject(e as Error);
        }
      }
    });
  }

  // ---- exec ---------------------------------------------------------------------------------------------------

  /** Run one command line on one exec channel and collect its output as bytes. */
  #run(command: string, stdin: Buffer | undefined, timeoutMs: number, display: string): Promise<RawResult> {
    return this.#channels(async () => {
      // sshd frees a finished session a little after its channel closes: a refused open is retried briefly.
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.#runOnce(command, stdin, timeoutMs, display);
        } catch (err) {
          if (!(err instanceof ChannelRefused) || attempt >= CHANNEL_OPEN_ATTEMPTS || this.#state !== 'ready') {
            if (err instanceof ChannelRefused) {
              throw new HostError(this.host, 'command', `${this.host}: cannot start \`${display}\`: ${err.message}`,
                'the server refused a new session channel; check MaxSessions in its sshd_config or lower maxChannels');
            }
            throw err;
          }
          await new Promise((r) => setTimeout(r, 20 * attempt));
        }
      }
    });
  }

  #runOnce(command: string, stdin: Buffer | undefined, timeoutMs: number, display: string): Promise<RawResult> {
    return this.#track<RawResult>(`running \`${display}\``, (resolve, reject) => {
        const started = Date.now();
        this.counters.roundTrips++;
        this.client.exec(command, (err: Error | undefined, stream: ClientChannel) => {
          if (err) {
            if (this.#state !== 'ready') return reject(connectionClosed(this.host, `running \`${display}\``, err.message));
            return reject(new ChannelRefused(err.message));
          }
          const out: Buffer[] = [];
          const errOut: Buffer[] = [];
          let exitCode: number | null = null;
          let signal: string | null = null;
          const timer = setTimeout(() => {
            try {
              stream.signal('KILL');
            } catch {
              /* not every server supports signals */
            }
            stream.close();
            reject(new HostError(this.host, 'timeout', `${this.host}: \`${display}\` did not finish within ${Math.round(timeoutMs / 1000)}s`,
              `check what blocks it on ${this.host}; raise ssh.commandTimeout if it is just slow`));
          }, timeoutMs);
          stream.on('data', (d: Buffer) => out.push(d));
          stream.stderr.on('data', (d: Buffer) => errOut.push(d));
          stream.on('exit', (code: number | null, sig?: string) => {
            exitCode = code ?? null;
            signal = sig ?? null;
          });
          stream.on('close', () => {
            clearTimeout(timer);
            if (this.#state !== 'ready' && exitCode === null && signal === null) {
              return reject(connectionClosed(this.host, `running \`${display}\``, this.#lostCause));
            }
            resolve({ exitCode, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(errOut), durationMs: Date.now() - started });
          });
          stream.on('error', () => undefined);
          stream.end(stdin ?? undefined);
        });
      });
  }

  /** Whether and how this host's commands get root. Probed once: `sudo -n true` tells NOPASSWD sudo apart. */
  #becomeMode(): Promise<BecomeMode> {
    if (!this.hostInfo.ssh.become || this.hostInfo.ssh.user === 'root') return Promise.resolve('none');
    return (this.#become ??= (async () => {
      const probe = await this.#run('sudo -n true', undefined, this.hostInfo.ssh.commandTimeout * 1000, 'sudo -n true');
      if (probe.exitCode === 0) return 'sudo-nopasswd';
      return (await this.creds.becomePassword()) ? 'sudo-password' : 'sudo-nopasswd';
    })());
  }

  /** The command line and stdin to send, with sudo in front when the host needs it. */
  async #prepare(command: string, opts: ExecOptions): Promise<{ line: string; stdin?: Buffer }> {
    const stdin = opts.stdin === undefined ? undefined : Buffer.isBuffer(opts.stdin) ? opts.stdin : Buffer.from(opts.stdin, 'utf8');
    const mode = opts.become === false ? 'none' : await this.#becomeMode();
    if (mode === 'none') return { line: command, stdin };
    if (mode === 'sudo-nopasswd') return { line: `sudo -n -- ${command}`, stdin };
    const pw = await this.creds.becomePassword();
    // -k: always ask, so the password line is always consumed by sudo and never reaches the command.
    return {
      line: `sudo -k -S -p '' -- ${command}`,
      stdin: Buffer.concat([Buffer.from(`${pw!.reveal()}\n`, 'utf8'), stdin ?? Buffer.alloc(0)]),
    };
  }

  async #execRaw(command: string, opts: ExecOptions): Promise<{ raw: RawResult; line: string }> {
    const { line, stdin } = await this.#prepare(command, opts);
    const timeoutMs = opts.timeoutMs ?? this.hostInfo.ssh.commandTimeout * 1000;
    const raw = await this.#run(line, stdin, timeoutMs, command);
    this.#emit({ type: 'exec', host: this.host, command: line, exitCode: raw.exitCode, durationMs: raw.durationMs });
    if (raw.exitCode !== 0 && !opts.allowFailure) throw this.#commandError(line, raw);
    return { raw, line };
  }

  /** Run a script built by ./exec-transfer.ts under `sh -c` (through sudo on become hosts). */
  #script(script: string, opts: ExecOptions): Promise<{ raw: RawResult; line: string }> {
    return this.#execRaw(`sh -c ${quote(script)}`, opts);
  }

  #commandError(line: string, raw: RawResult): HostError {
    const stderr = raw.stderr.toString('utf8');
    const tail = stderr.length > STDERR_TAIL ? '…' + stderr.slice(-STDERR_TAIL) : stderr;
    const how = raw.signal ? `was killed by ${raw.signal}` : `exited with ${raw.exitCode}`;
    const short = `${this.host}: \`${line.length > 200 ? line.slice(0, 200) + '…' : line}\` ${how}`;
    if (raw.exitCode === 1 && /^sudo: (a password is required|a terminal is required|\d+ incorrect password attempts?)/m.test(stderr)) {
      return new HostError(this.host, 'auth', `${this.host}: sudo refused to run as root for ${this.hostInfo.ssh.user}`,
        `give ${this.hostInfo.ssh.user} NOPASSWD sudo on ${this.host}, or set ${envNames.becomePassword} (or run in a terminal to be asked)`, tail.trim());
    }
    return new HostError(this.host, 'command', short, undefined, tail.trim() || undefined);
  }

  #result(line: string, raw: RawResult): ExecResult {
    return {
      host: this.host,
      command: line,
      exitCode: raw.exitCode,
      signal: raw.signal,
      stdout: raw.stdout.toString('utf8'),
      stderr: raw.stderr.toString('utf8'),
      durationMs: raw.durationMs,
    };
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const { raw, line } = await this.#execRaw(quoteArgv(argv), opts);
    return this.#result(line, raw);
  }

  async sh(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const { raw, line } = await this.#execRaw(`sh -c ${quote(script)}`, opts);
    return this.#result(line, raw);
  }

  // ---- files --------------------------------------------------------------------------------------------------

  /** The SFTP session (opened once, lazily), or null when files go through exec. */
  #sftpOrNull(): Promise<SFTPWrapper | null> {
    return (this.#sftp ??= (async () => {
      if (this.opts.fileTransfer === 'exec') return null;
      if ((await this.#becomeMode()) !== 'none') return null;
      try {
        return await this.#track<SFTPWrapper>('opening SFTP', (resolve, reject) => {
          this.counters.roundTrips++;
          this.client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp)));
        });
      } catch (err) {
        if (err instanceof HostError) throw err;
        const note = `${this.host}: no SFTP subsystem (${(err as Error).message}); files are transferred with cat over exec`;
        this.notes.push(note);
        this.#emit({ type: 'sftp-unavailable', host: this.host, note });
        return null;
      }
    })());
  }

  #sftpCall<T>(what: string, path: string, call: (cb: (err: (Error & { code?: number }) | undefined | null, v?: T) => void) => void): Promise<T> {
    return this.#track<T>(`${what} ${path}`, (resolve, reject) => {
      this.counters.roundTrips++;
      call((err, v) => {
        if (err) {
          const e = new HostError(this.host, 'transfer', `${this.host}: SFTP ${what} ${path} failed: ${err.message}`,
            `check that ${this.hostInfo.ssh.user} may do this on ${this.host}, or set become: true`);
          (e as HostError & { sftpCode?: number }).sftpCode = err.code;
          return reject(e);
        }
        resolve(v as T);
      });
    });
  }

  async readFile(path: string): Promise<Buffer> {
    const sftp = await this.#sftpOrNull();
    if (!sftp) return (await this.#script(readScript(path), {})).raw.stdout;
    const handle = await this.#sftpCall<Buffer>('open', path, (cb) => sftp.open(path, 'r', cb));
    try {
      const parts: Buffer[] = [];
      let pos = 0;
      for (;;) {
        const buf = Buffer.alloc(SFTP_CHUNK);
        const n = await this.#track<number>(`reading ${path}`, (resolve, reject) => {
          this.counters.roundTrips++;
          sftp.read(handle, buf, 0, SFTP_CHUNK, pos, (err, bytesRead) => {
            if (err && (err as Error & { code?: number }).code === 1) return resolve(0); // EOF
            if (err) return reject(new HostError(this.host, 'transfer', `${this.host}: SFTP read ${path} failed: ${err.message}`));
            resolve(bytesRead);
          });
        });
        if (n === 0) break;
        parts.push(buf.subarray(0, n));
        pos += n;
      }
      return Buffer.concat(parts);
    } finally {
      await this.#sftpCall<void>('close', path, (cb) => sftp.close(handle, cb)).catch(() => undefined);
    }
  }

  async writeFileAtomic(path: string, data: Buffer | string, opts: WriteOptions = {}): Promise<void> {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
    const mode = opts.mode ?? defaultFileMode(path);
    const tmp = tempNameFor(path);
    const sftp = await this.#sftpOrNull();
    if (!sftp) {
      await this.#script(writeAtomicScript(path, tmp, mode, opts.uid, opts.gid), { stdin: buf });
      return;
    }
    const handle = await this.#sftpCall<Buffer>('create', tmp, (cb) => sftp.open(tmp, 'wx', { mode: 0o600 }, cb));
    let open = true;
    try {
      const writes: Promise<void>[] = [];
      for (let off = 0; off < buf.length; off += SFTP_CHUNK) {
        const len = Math.min(SFTP_CHUNK, buf.length - off);
        const at = off;
        writes.push(this.#sftpCall<void>('write', tmp, (cb) => sftp.write(handle, buf, at, len, at, cb)));
      }
      await Promise.all(writes);
      if (opts.uid !== undefined || opts.gid !== undefined) {
        let { uid, gid } = opts;
        if (uid === undefined || gid === undefined) {
          const st = await this.#sftpCall<Stats>('fstat', tmp, (cb) => sftp.fstat(handle, cb));
          uid ??= st.uid;
          gid ??= st.gid;
        }
        await this.#sftpCall<void>('chown', tmp, (cb) => sftp.fchown(handle, uid!, gid!, cb));
      }
      await this.#sftpCall<void>('chmod', tmp, (cb) => sftp.fchmod(handle, mode, cb));
      try {
        await this.#sftpCall<void>('fsync', tmp, (cb) => sftp.ext_openssh_fsync(handle, cb));
      } catch (err) {
        if (!(err instanceof Error && /does not support/.test(err.message))) throw err;
      }
      open = false;
      await this.#sftpCall<void>('close', tmp, (cb) => sftp.close(handle, cb));
      await this.#renameSftp(sftp, tmp, path);
    } catch (err) {
      if (open) await this.#sftpCall<void>('close', tmp, (cb) => sftp.close(handle, cb)).catch(() => undefined);
      if (this.#state === 'ready') await this.#sftpCall<void>('unlink', tmp, (cb) => sftp.unlink(tmp, cb)).catch(() => undefined);
      throw err;
    }
  }

  async #renameSftp(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
    try {
      await this.#sftpCall<void>('rename', `${from} → ${to}`, (cb) => sftp.ext_openssh_rename(from, to, cb));
    } catch (err) {
      // Without posix-rename@openssh.com, SFTP rename refuses to replace a file: use mv.
      if (err instanceof Error && /does not support/.test(err.message)) {
        await this.#script(renameScript(from, to), {});
        return;
      }
      throw err;
    }
  }

  async rename(from: string, to: string): Promise<void> {
    const sftp = await this.#sftpOrNull();
    if (!sftp) {
      await this.#script(renameScript(from, to), {});
      return;
    }
    await this.#renameSftp(sftp, from, to);
  }

  async stat(path: string): Promise<RemoteStat | null> {
    const sftp = await this.#sftpOrNull();
    if (!sftp) return parseStatOutput(path, (await this.#script(statScript(path), {})).raw.stdout.toString('utf8'));
    try {
      const st = await this.#sftpCall<Stats>('stat', path, (cb) => sftp.stat(path, cb));
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
    const sftp = await this.#sftpOrNull();
    if (!sftp) {
      await this.#script(mkdirScript(path, opts), {});
      return;
    }
    await this.#mkdirSftp(sftp, path, opts);
  }

  async #mkdirSftp(sftp: SFTPWrapper, path: string, opts: { mode?: number; recursive?: boolean }): Promise<void> {
    const attrs = opts.mode !== undefined ? { mode: opts.mode } : {};
    try {
      await this.#sftpCall<void>('mkdir', path, (cb) => sftp.mkdir(path, attrs, cb));
      if (opts.mode !== undefined) await this.#sftpCall<void>('chmod', path, (cb) => sftp.chmod(path, opts.mode!, cb));
    } catch (err) {
      if (!opts.recursive) throw err;
      const code = (err as { sftpCode?: number }).sftpCode;
      if (code === SFTP_NO_SUCH_FILE && dirname(path) !== path) {
        await this.#mkdirSftp(sftp, dirname(path), { recursive: true });
        return this.#mkdirSftp(sftp, path, { ...opts, recursive: false });
      }
      const st = await this.stat(path);
      if (st?.isDirectory) return;
      throw err;
    }
  }

  // ---- lifecycle ----------------------------------------------------------------------------------------------

  close(): Promise<void> {
    return (this.#closed ??= new Promise<void>((resolve) => {
      const wasReady = this.#state === 'ready';
      this.#state = 'closed';
      this.#rejectAll('closed by certroll');
      if (!wasReady) {
        this.client.destroy();
        this.#emit({ type: 'closed', host: this.host });
        return resolve();
      }
      const timer = setTimeout(() => this.client.destroy(), 2000);
      this.client.once('close', () => {
        clearTimeout(timer);
        this.#emit({ type: 'closed', host: this.host });
        resolve();
      });
      this.client.end();
    }));
  }
}
