// The few error classes of certroll, split by whose fault it is; only src/cli/main.ts turns them into output and exit codes.

/** Exit codes, documented in the README. */
export const ExitCode = {
  ok: 0,
  /** `check`: a certificate expires within --warn-days (or has expired). `plan`: warnings that block a run. */
  findings: 1,
  /** One or more hosts could not be reached or a remote command failed. */
  hostFailure: 2,
  /** Bad input: inventory, playbook or command line; nothing touched the network. */
  badInput: 3,
  /** A safety check stopped the run (quorum, health, precheck, lock held, confirmation refused). */
  safetyStop: 4,
  /** The run got past the point of no return (new certificates in place) but some later steps failed or did not run. */
  completedWithErrors: 5,
  /** Interrupted by SIGINT (Ctrl-C) at a safe point. */
  interrupted: 130,
  /** Stopped by SIGTERM at a safe point. */
  terminated: 143,
  /** Stopped by SIGHUP (terminal or SSH session closed) at a safe point. */
  hangup: 129,
  /** A bug in certroll. */
  bug: 70,
} as const;

/** One problem found in user input, located in its file. */
export interface InputIssue {
  file: string;
  /** 1-based line, when known. */
  line?: number;
  /** 1-based column, when known. */
  column?: number;
  /** Dotted YAML path of the field, e.g. `hosts.tos-2.port`. */
  path: string;
  /** What is wrong and what is expected. */
  message: string;
}

export function formatInputIssue(i: InputIssue): string {
  const where = i.line ? `${i.file}:${i.line}${i.column ? `:${i.column}` : ''}` : i.file;
  return `${i.path ? `${i.path}: ` : ''}${i.message} (${where})`;
}

/** Bad input: every issue found, reported at once. */
export class InputError extends Error {
  override name = 'InputError';
  constructor(readonly issues: InputIssue[], headline?: string) {
    super((headline ? headline + '\n' : '') + issues.map((i) => '  ' + formatInputIssue(i)).join('\n'));
  }
}

/** A plain usage error with no file position (bad flag combination, missing file). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export type HostFailureKind = 'dns' | 'connect' | 'timeout' | 'auth' | 'host-key' | 'command' | 'transfer' | 'closed';

/** A host could not do what was asked: which host, what kind of failure, and what to do next. */
export class HostError extends Error {
  override name = 'HostError';
  constructor(
    readonly host: string,
    readonly kind: HostFailureKind,
    /** One line: host, what, cause. */
    readonly shortMessage: string,
    /** What the operator should do next. */
    readonly hint?: string,
    /** Longer detail (stderr tail). */
    readonly detail?: string,
  ) {
    super(shortMessage + (detail ? `\n${detail}` : '') + (hint ? `\n  → ${hint}` : ''));
  }
}

/** `host: message`, naming the host once even when the message already starts with it (as HostError.shortMessage does). */
export function aboutHost(host: string, message: string): string {
  return message.startsWith(`${host}: `) ? message : `${host}: ${message}`;
}

/** A safety check refused to go on. */
export class SafetyStop extends Error {
  override name = 'SafetyStop';
  constructor(
    readonly check: string,
    message: string,
    readonly hint?: string,
    readonly host?: string,
  ) {
    super(message + (hint ? `\n  → ${hint}` : ''));
  }
}

/** The run was interrupted and stopped at a safe point. */
export class Interrupted extends Error {
  override name = 'Interrupted';
}

/** A run past its point of no return where some steps failed or did not run: the message lists them and how to finish. */
export class CompletedWithErrors extends Error {
  override name = 'CompletedWithErrors';
}

/**
 * A bug in certroll's own code (a parser indexing past the end, a call on undefined), not something a host did: it must
 * reach the CLI's error boundary as an internal error (exit 70), never pass for "host unreachable" or a failed step.
 */
export function isBug(err: unknown): boolean {
  return err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError;
}
