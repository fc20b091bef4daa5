// Options of the SSH layer (one interface, one defaults object) and the events it emits for progress views.

export type SshEvent =
  | { type: 'connecting'; host: string; address: string; port: number }
  | { type: 'connected'; host: string; durationMs: number }
  /** A bastion connection was opened (once per bastion, shared by the hosts behind it). */
  | { type: 'bastion-connected'; host: string; bastion: string; address: string; port: number }
  | { type: 'connect-failed'; host: string; kind: string; message: string }
  | { type: 'host-key-added'; host: string; fingerprint: string; file: string }
  /** The host has no SFTP subsystem: file transfer goes through exec (`cat`). */
  | { type: 'sftp-unavailable'; host: string; note: string }
  | { type: 'exec'; host: string; command: string; exitCode: number | null; durationMs: number }
  | { type: 'connection-lost'; host: string; message: string }
  | { type: 'closed'; host: string };

export interface ConnectOptions {
  /** How many hosts are connected to / worked on at once (`--forks`). */
  forks: number;
  /** Add unknown host keys to known_hosts (`--accept-new-host-keys`); changed keys are always refused. */
  acceptNewHostKeys: boolean;
  /** Asked once per key file when an identity file is encrypted and CERTROLL_KEY_PASSPHRASE is not set. */
  passphrase?: () => Promise<string>;
  /** Asked when password authentication is reached and CERTROLL_SSH_PASSWORD is not set. */
  password?: () => Promise<string>;
  /** sudo password for become hosts whose sudo wants one; CERTROLL_BECOME_PASSWORD, else the SSH password. */
  becomePassword?: () => Promise<string>;
  onEvent?: (e: SshEvent) => void;
  /** Environment to read CERTROLL_* and SSH_AUTH_SOCK from (tests pass their own). */
  env: Record<string, string | undefined>;
  /** SSH keepalive: probe every keepaliveIntervalMs, give up after keepaliveCountMax unanswered probes. */
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  /** Exec channels open at once on one connection (OpenSSH's MaxSessions is 10, one is kept for SFTP). */
  maxChannels: number;
  /** 'auto': SFTP, falling back to exec when the host has no SFTP subsystem; 'exec': always exec. */
  fileTransfer: 'auto' | 'exec';
}

export const defaultConnectOptions: ConnectOptions = {
  forks: 20,
  acceptNewHostKeys: false,
  env: process.env,
  keepaliveIntervalMs: 15_000,
  keepaliveCountMax: 3,
  maxChannels: 8,
  fileTransfer: 'auto',
};

/** Environment variables read by the SSH layer. */
export const envNames = {
  keyPassphrase: 'CERTROLL_KEY_PASSPHRASE',
  sshPassword: 'CERTROLL_SSH_PASSWORD',
  becomePassword: 'CERTROLL_BECOME_PASSWORD',
  agentSocket: 'SSH_AUTH_SOCK',
} as const;

/** Wrap a prompt so that parallel hosts ask the user once and share the answer. */
export function once<T>(fn: (() => Promise<T>) | undefined): (() => Promise<T>) | undefined {
  if (!fn) return undefined;
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}
