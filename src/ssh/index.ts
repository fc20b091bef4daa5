// The SSH layer's public entry point: connect one host or a fleet, quote shell values, check host keys.
export { connect, SshRemote } from './connection.js';
export { type BecomeMode, type ConnectionState } from './exec.js';
export { defaultFileMode } from './file-ops.js';
export { expandHome } from './handshake.js';
export { openFleet, execAll, closeAll, sumCounters, toHostError, type Fleet, type HostOutcome } from './fleet.js';
export { defaultConnectOptions, envNames, type ConnectOptions, type SshEvent } from './options.js';
export { quote, quoteArgv, sh, raw, ShellFragment, type ShellValue } from './quote.js';
export { CredentialStore } from './auth.js';
export {
  parseKnownHosts,
  checkHostKey,
  fingerprintSha256,
  knownHostsName,
  loadKnownHosts,
  appendKnownHost,
  type KnownHostEntry,
  type HostKeyVerdict,
} from './known-hosts.js';
export type { Remote, ExecOptions, ExecResult, RemoteStat, WriteOptions, TransportCounters } from './remote.js';
