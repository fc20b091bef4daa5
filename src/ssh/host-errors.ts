// Turns ssh2 and socket failures into HostError with a kind and a hint saying what to do next.
import { HostError } from '../errors.js';
import type { Host } from '../inventory/types.js';

type Ssh2Error = Error & { level?: string; code?: string | number; description?: string };

function where(host: Host): string {
  return `${host.ssh.user}@${host.address}:${host.ssh.port}`;
}

/** The HostError for a connection attempt that failed before the session was ready. */
export function connectFailure(host: Host, err: Ssh2Error, triedAuth: readonly string[]): HostError {
  const name = host.name;
  const code = typeof err.code === 'string' ? err.code : undefined;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL') {
    return new HostError(name, 'dns', `${name}: cannot resolve ${host.address} (${code})`,
      `check the address of ${name} in the inventory, or DNS / /etc/hosts on this machine`);
  }
  if (code === 'ECONNREFUSED') {
    return new HostError(name, 'connect', `${name}: connection refused by ${host.address}:${host.ssh.port}`,
      `is sshd running on ${name} and listening on port ${host.ssh.port}? check ssh.port in the inventory`);
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL' || code === 'ETIMEDOUT') {
    return new HostError(name, 'connect', `${name}: cannot reach ${host.address}:${host.ssh.port} (${code})`,
      `check the network path and firewall between this machine and ${name}`);
  }
  if (err.level === 'client-timeout') {
    return new HostError(name, 'timeout', `${name}: no SSH handshake from ${host.address}:${host.ssh.port} within ${host.ssh.connectTimeout}s`,
      `check that ${name} is up and that a firewall does not drop port ${host.ssh.port}; raise ssh.connectTimeout for slow links`);
  }
  if (err.level === 'client-authentication') {
    return new HostError(name, 'auth', `${name}: authentication refused for ${where(host)} (tried: ${triedAuth.join(', ') || 'nothing'})`,
      `check ssh.user and ssh.identityFile for ${name} and that the public key is in ~${host.ssh.user}/.ssh/authorized_keys there; ` +
        `or load the key into ssh-agent (SSH_AUTH_SOCK), or set CERTROLL_SSH_PASSWORD`);
  }
  if (code === 'ECONNRESET' || err.level === 'handshake' || err.level === 'protocol') {
    return new HostError(name, 'connect', `${name}: SSH handshake with ${host.address}:${host.ssh.port} failed: ${err.message}`,
      `check that an SSH server answers on ${host.address}:${host.ssh.port} and that it offers algorithms ssh2 supports`);
  }
  return new HostError(name, 'connect', `${name}: cannot connect to ${where(host)}: ${err.message}`,
    `check that ${name} is reachable with: ssh -p ${host.ssh.port} ${host.ssh.user}@${host.address}`);
}

/** The HostError for a request on a connection that has gone away. */
export function connectionClosed(host: string, what: string, cause?: string): HostError {
  return new HostError(host, 'closed', `${host}: connection closed while ${what}${cause ? ` (${cause})` : ''}`,
    `check whether ${host} rebooted or sshd restarted; run again (or --resume) once it answers`);
}
