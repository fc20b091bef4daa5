// The Remote implementation: one ssh2 connection per host (./handshake.ts), its commands (./exec.ts) and its files (./file-ops.ts).
import { HostError } from '../errors.js';
import type { Host } from '../inventory/types.js';
import { CredentialStore } from './auth.js';
import { tunnelThroughBastions } from './bastion.js';
import { ExecSession, type Client, type ConnectionState } from './exec.js';
import { openFileOps, type FileOps } from './file-ops.js';
import { readScript } from './exec-transfer.js';
import { handshake } from './handshake.js';
import { connectFailure } from './host-errors.js';
import { defaultConnectOptions, type ConnectOptions, type SshEvent } from './options.js';
import type { ExecOptions, ExecResult, Remote, RemoteStat, TransportCounters, WriteOptions } from './remote.js';


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

/** One host's live SSH connection (the Remote every other module uses). */
export class SshRemote implements Remote {
  readonly host: string;
  readonly address: string;
  readonly counters: TransportCounters = { connections: 1, roundTrips: 0 };
  /** Things the CLI should show once, e.g. that SFTP is unavailable and exec is used instead. */
  readonly notes: string[] = [];
  readonly #session: ExecSession;
  #files?: Promise<FileOps>;
  #closed?: Promise<void>;

  constructor(
    readonly hostInfo: Host,
    private readonly client: Client,
    private readonly opts: ConnectOptions,
    creds: CredentialStore,
  ) {
    this.host = hostInfo.name;
    this.address = hostInfo.address;
    const session = (this.#session = new ExecSession(hostInfo, client, opts, creds, this.counters));
    client.removeAllListeners('error');
    client.removeAllListeners('close');
    client.on('error', (err: Error) => {
      session.lostCause = err.message;
    });
    const onGone = () => session.markGone();
    client.on('end', onGone);
    client.on('close', onGone);
  }

  get state(): ConnectionState {
    return this.#session.state;
  }

  /** How file operations travel: 'sftp', or 'exec' for become hosts, fileTransfer 'exec', or hosts without SFTP. */
  async fileTransport(): Promise<'sftp' | 'exec'> {
    return (await this.#fileOps()).kind;
  }

  /** The host's file operations (SFTP opened once, lazily, or exec). */
  #fileOps(): Promise<FileOps> {
    return (this.#files ??= openFileOps(this.#session, this.opts.fileTransfer, this.notes));
  }

  exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.#session.exec(argv, opts);
  }

  sh(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.#session.sh(script, opts);
  }

  /**
   * One exec of `cat` (through sudo on become hosts), whatever the file transport: one round trip, where SFTP takes a
   * session, an open, a read per 32 KiB plus one, and a close. The bytes come back on the channel, as with SFTP.
   */
  async readFile(path: string): Promise<Buffer> {
    return this.#session.script(readScript(path));
  }

  async writeFileAtomic(path: string, data: Buffer | string, opts: WriteOptions = {}): Promise<void> {
    return (await this.#fileOps()).writeFileAtomic(path, data, opts);
  }

  async rename(from: string, to: string): Promise<void> {
    return (await this.#fileOps()).rename(from, to);
  }

  async stat(path: string): Promise<RemoteStat | null> {
    return (await this.#fileOps()).stat(path);
  }

  async mkdir(path: string, opts: { mode?: number; recursive?: boolean } = {}): Promise<void> {
    return (await this.#fileOps()).mkdir(path, opts);
  }

  close(): Promise<void> {
    return (this.#closed ??= new Promise<void>((resolve) => {
      const wasReady = this.#session.markClosed();
      if (!wasReady) {
        this.client.destroy();
        this.#session.emit({ type: 'closed', host: this.host });
        return resolve();
      }
      const timer = setTimeout(() => this.client.destroy(), 2000);
      this.client.once('close', () => {
        clearTimeout(timer);
        this.#session.emit({ type: 'closed', host: this.host });
        resolve();
      });
      this.client.end();
    }));
  }
}
