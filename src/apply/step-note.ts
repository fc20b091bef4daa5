// The lock-step note at a step's start (owner.json on the lock's host names the step the run is in, so that `certroll
// status` can say where a dead run stopped) without a round trip of its own where it can ride along: it is sent no later
// than the step's first command, in front of that command when the command is an exec on the lock's host
// (ExecOptions.prelude), else on its own before it (the old separate exec).
import type { ExecOptions, ExecResult, Remote, TransportCounters } from '../ssh/remote.js';
import { lockStepNoteScript, noteLockStep, type LockOwner } from '../steps/lock.js';

export interface StepNoteTarget {
  /** The host whose lock carries the note (the first master). */
  host: string;
  certDir: string;
  owner: LockOwner;
  /** The step's label, "6. rolling-restart". */
  step: string;
}

/**
 * One step's note. `remote` is the step's `ctx.remote`: the same connections (looked up on every call, so a reconnected
 * host's new one is used), each wrapped so that the step's first command, on whichever host, is preceded by the note:
 * - an exec (`sh`/`exec`) on the lock's host carries the note as its prelude (no extra round trip);
 * - any other first command (another host's, or a file operation) waits for the note sent on its own, as before;
 * - commands after the first do not wait (a command sent together with the note's runs as soon as the host gets it).
 * A step that sends no command notes nothing. The note never throws and never stops a step (as before: a lock that is
 * gone or another run's is left alone).
 */
export class StepNote {
  #sent: Promise<void> | undefined;
  readonly #wrapped = new Map<string, Remote>();
  readonly #script: string;

  constructor(
    private readonly base: (host: string) => Remote,
    private readonly target: StepNoteTarget,
  ) {
    this.#script = lockStepNoteScript(target.certDir, target.owner, target.step);
  }

  /** Whether the note went out (in front of a command or on its own). */
  get sent(): boolean {
    return this.#sent !== undefined;
  }

  readonly remote = (host: string): Remote => {
    if (!this.base(host)) return this.base(host);
    let w = this.#wrapped.get(host);
    if (!w) this.#wrapped.set(host, (w = this.#wrap(host)));
    return w;
  };

  /** Before a command on `host`: the prelude it carries (the note), or undefined once the note is on its way. */
  async #before(host: string, canCarry: boolean): Promise<string | undefined> {
    if (this.#sent) return void (await this.#sent);
    if (canCarry && host === this.target.host) {
      this.#sent = Promise.resolve();
      return this.#script;
    }
    const { certDir, owner, step } = this.target;
    this.#sent = noteLockStep(this.base(this.target.host), certDir, owner, step);
    await this.#sent;
    return undefined;
  }

  #wrap(host: string): Remote {
    const inner = () => this.base(host);
    const carry = async (opts: ExecOptions | undefined): Promise<ExecOptions | undefined> => {
      const prelude = await this.#before(host, true);
      return prelude ? { ...opts, prelude } : opts;
    };
    const first = () => this.#before(host, false);
    return {
      get host() {
        return inner().host;
      },
      get address() {
        return inner().address;
      },
      get counters(): TransportCounters {
        return inner().counters;
      },
      exec: async (argv, opts): Promise<ExecResult> => inner().exec(argv, await carry(opts)),
      sh: async (script, opts): Promise<ExecResult> => inner().sh(script, await carry(opts)),
      readFile: async (path) => (await first(), inner().readFile(path)),
      writeFileAtomic: async (path, data, opts) => (await first(), inner().writeFileAtomic(path, data, opts)),
      rename: async (from, to) => (await first(), inner().rename(from, to)),
      stat: async (path) => (await first(), inner().stat(path)),
      mkdir: async (path, opts) => (await first(), inner().mkdir(path, opts)),
      close: () => inner().close(),
    };
  }
}
