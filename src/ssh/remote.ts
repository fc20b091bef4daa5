// The narrow interface every other module uses to act on a host; implemented over one ssh2 connection per host in ./connection.ts.

export interface ExecOptions {
  /** Bytes fed to the command's stdin (then EOF). Use this for secrets and file contents, never argv. */
  stdin?: string | Buffer;
  /** Per-command timeout; the channel is closed and the call rejects with HostError kind 'timeout'. Default 60 s. */
  timeoutMs?: number;
  /** Do not throw on a non-zero exit; the caller inspects exitCode. Default false. */
  allowFailure?: boolean;
  /** Run through sudo when the host has become: true. Default true. */
  become?: boolean;
  /**
   * A script run first, in the same exec (under the same sudo), with stdin from /dev/null and its output and exit code
   * discarded; then the command runs as it would alone. It rides along to save a round trip (the engine's lock-step
   * note, src/apply/step-note.ts) and is left out of the command line shown in results and errors.
   */
  prelude?: string;
}

/** The one shape of a command's result (style.md #6). */
export interface ExecResult {
  host: string;
  /** The command line as sent, after quoting (never contains secrets: those go through stdin). */
  command: string;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface RemoteStat {
  path: string;
  size: number;
  /** Permission bits only, e.g. 0o600. */
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  isDirectory: boolean;
  isFile: boolean;
}

export interface WriteOptions {
  /** Permission bits of the final file. Default 0o644, 0o600 for anything called *key*. */
  mode?: number;
  /** uid/gid of the final file (needs root/become). Default: unchanged/whatever the writer is. */
  uid?: number;
  gid?: number;
}

export interface TransportCounters {
  /** SSH connections opened (should be 1 per host per run). */
  connections: number;
  /** Exec channels + SFTP requests issued: what the benchmarks call round trips. */
  roundTrips: number;
}

export interface Remote {
  /** Inventory name of the host. */
  readonly host: string;
  readonly address: string;
  /** Run argv; every element is quoted with quote() from ./quote.ts. Rejects with HostError('command') on non-zero unless allowFailure. */
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Run a shell script already built with quote()/sh`` (the script runs under `sh -c`). */
  sh(script: string, opts?: ExecOptions): Promise<ExecResult>;
  readFile(path: string): Promise<Buffer>;
  /** Write to `<path>.certroll-tmp-<random>` in the same directory, fsync, chmod/chown, then rename over `path`. */
  writeFileAtomic(path: string, data: Buffer | string, opts?: WriteOptions): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** null when the path does not exist. */
  stat(path: string): Promise<RemoteStat | null>;
  mkdir(path: string, opts?: { mode?: number; recursive?: boolean }): Promise<void>;
  readonly counters: TransportCounters;
  close(): Promise<void>;
}
