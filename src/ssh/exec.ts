// Commands on one live connection: exec channels (at most maxChannels at once), sudo for become hosts, timeouts, and the connection's state that rejects every pending request when it goes away.
import pLimit from 'p-limit';
import type { ClientChannel } from 'ssh2';
import type ssh2Module from 'ssh2';
import { HostError } from '../errors.js';
import type { Host } from '../inventory/types.js';
import type { CredentialStore } from './auth.js';
import { connectionClosed } from './host-errors.js';
import { envNames, type ConnectOptions, type SshEvent } from './options.js';
import { quote, quoteArgv } from './quote.js';
import type { ExecOptions, ExecResult, TransportCounters } from './remote.js';

export type Client = InstanceType<typeof ssh2Module.Client>;

/** Lifecycle of one connection. */
export type ConnectionState = 'ready' | 'lost' | 'closed';

/** How remote commands get root: not at all, `sudo -n`, or `sudo -S` with the password on stdin. */
export type BecomeMode = 'none' | 'sudo-nopasswd' | 'sudo-password';

const STDERR_TAIL = 2000;
const CHANNEL_OPEN_ATTEMPTS = 10;

/** The server refused to open a session channel (usually MaxSessions reached for a moment). */
class ChannelRefused extends Error {}

export interface RawResult {
  exitCode: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
}

/** One connection's requests: its state, the pending requests to reject when it goes away, and every exec channel. */
export class ExecSession {
  readonly host: string;
  #state: ConnectionState = 'ready';
  #lostCause?: string;
  readonly #pending = new Set<(err: HostError) => void>();
  readonly #channels: ReturnType<typeof pLimit>;
  #become?: Promise<BecomeMode>;

  constructor(
    readonly hostInfo: Host,
    readonly client: Client,
    private readonly opts: ConnectOptions,
    private readonly creds: CredentialStore,
    readonly counters: TransportCounters,
  ) {
    this.host = hostInfo.name;
    this.#channels = pLimit(Math.max(1, opts.maxChannels));
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** What ssh2 last reported as the connection's error (the cause shown when it goes away). */
  set lostCause(cause: string) {
    this.#lostCause = cause;
  }

  emit(e: SshEvent): void {
    this.opts.onEvent?.(e);
  }

  /** The connection ended without certroll asking: every pending request is rejected with HostError 'closed'. */
  markGone(): void {
    if (this.#state !== 'ready') return;
    this.#state = 'lost';
    this.emit({ type: 'connection-lost', host: this.host, message: this.#lostCause ?? 'connection closed' });
    this.#rejectAll(this.#lostCause);
  }

  /** certroll closes the connection: pending requests are rejected. Returns whether it was still ready. */
  markClosed(): boolean {
    const wasReady = this.#state === 'ready';
    this.#state = 'closed';
    this.#rejectAll('closed by certroll');
    return wasReady;
  }

  #rejectAll(cause?: string): void {
    const rejecters = [...this.#pending];
    this.#pending.clear();
    for (const r of rejecters) r(connectionClosed(this.host, 'waiting for a reply', cause));
  }

  /** Run `fn` as one pending request: it is rejected with HostError 'closed' if the connection goes away first. */
  track<T>(what: string, fn: (resolve: (v: T) => void, reject: (e: Error) => void) => void): Promise<T> {
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
    return this.track<RawResult>(`running \`${display}\``, (resolve, reject) => {
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
  becomeMode(): Promise<BecomeMode> {
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
    const mode = opts.become === false ? 'none' : await this.becomeMode();
    if (mode === 'none') return { line: command, stdin };
    if (mode === 'sudo-nopasswd') return { line: `sudo -n -- ${command}`, stdin };
    const pw = await this.creds.becomePassword();
    // -k: always ask, so the password line is always consumed by sudo and never reaches the command.
    return {
      line: `sudo -k -S -p '' -- ${command}`,
      stdin: Buffer.concat([Buffer.from(`${pw!.reveal()}\n`, 'utf8'), stdin ?? Buffer.alloc(0)]),
    };
  }

  /** `script`: what `command` runs, as one shell text; with opts.prelude the two are sent as one `sh -c` (withPrelude). */
  async #execRaw(command: string, opts: ExecOptions, script = command): Promise<{ raw: RawResult; line: string }> {
    const sent = withPrelude(command, script, opts.prelude);
    const prepared = await this.#prepare(sent, opts);
    const { stdin } = prepared;
    // What results and errors show: the command without the prelude (the sudo prefix kept).
    const line = prepared.line.slice(0, prepared.line.length - sent.length) + command;
    const timeoutMs = opts.timeoutMs ?? this.hostInfo.ssh.commandTimeout * 1000;
    const raw = await this.#run(prepared.line, stdin, timeoutMs, command);
    this.emit({ type: 'exec', host: this.host, command: line, exitCode: raw.exitCode, durationMs: raw.durationMs });
    if (raw.exitCode !== 0 && !opts.allowFailure) throw this.#commandError(line, raw);
    return { raw, line };
  }

  /** Run a script built by ./exec-transfer.ts under `sh -c` (through sudo on become hosts); its stdout as bytes. */
  async script(script: string, stdin?: Buffer): Promise<Buffer> {
    return (await this.#execRaw(`sh -c ${quote(script)}`, stdin ? { stdin } : {})).raw.stdout;
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
    const { raw, line } = await this.#execRaw(`sh -c ${quote(script)}`, opts, script);
    return this.#result(line, raw);
  }
}

/**
 * The command line that runs `prelude` (stdin /dev/null, output and exit code discarded), then `script` (the shell text
 * `command` runs), in one `sh -c`; `command` itself when there is no prelude.
 */
export function withPrelude(command: string, script: string, prelude: string | undefined): string {
  return prelude ? `sh -c ${quote(preludeScript(prelude, script))}` : command;
}

/** One shell text: `prelude` in a subshell (stdin /dev/null, output and exit code discarded), then `script`. */
export function preludeScript(prelude: string, script: string): string {
  return `( ${prelude}\n) </dev/null >/dev/null 2>&1\n${script}`;
}
