// Connects to many hosts at once (at most --forks at a time) and runs work on each, one result per host: a failing host never stops the others.
import pLimit from 'p-limit';
import { HostError, aboutHost, isBug } from '../errors.js';
import type { Host } from '../inventory/types.js';
import { CredentialStore } from './auth.js';
import { connect, type SshRemote } from './connection.js';
import { defaultConnectOptions, once, type ConnectOptions } from './options.js';
import type { Remote, TransportCounters } from './remote.js';

/** A bug in certroll (TypeError, RangeError, ReferenceError), never a host's failure: declared in errors.ts, used by the engine too. */
export { isBug };

/** One host's outcome: a value, or the HostError that stopped that host. */
export type HostOutcome<T> = { host: string; ok: true; value: T } | { host: string; ok: false; error: HostError };

export interface Fleet {
  /** Connected hosts, by inventory name, in inventory order. */
  readonly remotes: Map<string, SshRemote>;
  /** Hosts that could not be connected, by inventory name. */
  readonly errors: Map<string, HostError>;
  readonly options: ConnectOptions;
  /** Run fn on every connected host (or the given names), at most `forks` at a time. fn must not call fleet.run itself. */
  run<T>(fn: (remote: SshRemote) => Promise<T>, hostNames?: readonly string[]): Promise<HostOutcome<T>[]>;
  /** Sum of all connections' counters. */
  counters(): TransportCounters;
  /** Notes from every connection (e.g. SFTP unavailable, exec used). */
  notes(): string[];
  /**
   * Replace a host's connection with a new one (after it dropped): once connected, the old one is closed and the new one
   * takes its place in `remotes`; counters keep both. Throws the HostError of a failed attempt (nothing replaced).
   */
  reconnect(host: string): Promise<SshRemote>;
  close(): Promise<void>;
}

/**
 * Anything a host's work threw becomes a HostError for that host (kind 'command' with its message), except a bug
 * (isBug), which is thrown again as it is.
 */
export function toHostError(host: string, err: unknown): HostError {
  if (err instanceof HostError) return err;
  if (isBug(err)) throw err;
  const msg = err instanceof Error ? err.message : String(err);
  return new HostError(host, 'command', aboutHost(host, msg));
}

/**
 * Run every host's task to its end (one host's bug does not leave the others running unwatched), then throw the first
 * bug any of them threw; otherwise the tasks' results in order.
 */
export async function settleHosts<T>(tasks: Array<Promise<T>>): Promise<T[]> {
  const settled = await Promise.allSettled(tasks);
  const bug = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (bug) throw bug.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

/** Connect to every host with p-limit(forks); never throws because of one host. */
export async function openFleet(hosts: readonly Host[], options: Partial<ConnectOptions> = {}): Promise<Fleet> {
  const opts: ConnectOptions = {
    ...defaultConnectOptions,
    ...options,
    passphrase: once(options.passphrase),
    password: once(options.password),
    becomePassword: once(options.becomePassword),
  };
  const store = new CredentialStore(opts);
  const limit = pLimit(Math.max(1, opts.forks));
  const outcomes = await settleHosts(
    hosts.map((h) =>
      limit(async (): Promise<HostOutcome<SshRemote>> => {
        try {
          return { host: h.name, ok: true, value: await connect(h, opts, store) };
        } catch (err) {
          return { host: h.name, ok: false, error: toHostError(h.name, err) };
        }
      }),
    ),
  );
  const remotes = new Map<string, SshRemote>();
  const errors = new Map<string, HostError>();
  for (const o of outcomes) {
    if (o.ok) remotes.set(o.host, o.value);
    else errors.set(o.host, o.error);
  }
  const retired: SshRemote[] = [];
  return {
    remotes,
    errors,
    options: opts,
    run: <T>(fn: (remote: SshRemote) => Promise<T>, hostNames?: readonly string[]) =>
      execAll([...remotes.values()].filter((r) => !hostNames || hostNames.includes(r.host)), fn, limit),
    counters: () => sumCounters([...retired, ...remotes.values()]),
    notes: () => [...remotes.values()].flatMap((r) => r.notes),
    async reconnect(name: string) {
      const h = hosts.find((x) => x.name === name);
      if (!h) throw new HostError(name, 'command', aboutHost(name, 'not in the inventory'));
      let fresh: SshRemote;
      try {
        fresh = await connect(h, opts, store);
      } catch (err) {
        throw toHostError(name, err);
      }
      const old = remotes.get(name);
      if (old) {
        retired.push(old);
        await old.close().catch(() => undefined);
      }
      // Same key: the host keeps its place in inventory order.
      remotes.set(name, fresh);
      errors.delete(name);
      return fresh;
    },
    close: () => closeAll(remotes.values()),
  };
}

/** Run fn on each remote with at most `forks` at once (or the given limiter); one outcome per remote, in input order. */
export async function execAll<R extends Remote, T>(
  remotes: Iterable<R>,
  fn: (remote: R) => Promise<T>,
  limitOrForks: number | ReturnType<typeof pLimit> = defaultConnectOptions.forks,
): Promise<HostOutcome<T>[]> {
  const limit = typeof limitOrForks === 'number' ? pLimit(Math.max(1, limitOrForks)) : limitOrForks;
  return settleHosts(
    [...remotes].map((r) =>
      limit(async (): Promise<HostOutcome<T>> => {
        try {
          return { host: r.host, ok: true, value: await fn(r) };
        } catch (err) {
          return { host: r.host, ok: false, error: toHostError(r.host, err) };
        }
      }),
    ),
  );
}

/** Close every connection; never throws. */
export async function closeAll(remotes: Iterable<Remote>): Promise<void> {
  await Promise.all([...remotes].map((r) => r.close().catch(() => undefined)));
}

export function sumCounters(remotes: Iterable<Remote>): TransportCounters {
  const total: TransportCounters = { connections: 0, roundTrips: 0 };
  for (const r of remotes) {
    total.connections += r.counters.connections;
    total.roundTrips += r.counters.roundTrips;
  }
  return total;
}
