// Which port the lab's sshds listen on when none was asked for: 22, unless this machine's own sshd (or anything) holds
// port 22 on every address (0.0.0.0 or ::), which would also answer on the lab's 127.x addresses; then 2222.
import { readFileSync } from 'node:fs';

export const DEFAULT_SSH_PORT = 22;
export const FALLBACK_SSH_PORT = 2222;

/** The wildcard addresses in /proc/net/tcp (IPv4) and /proc/net/tcp6 (IPv6) notation. */
const WILDCARD = new Set(['00000000', '00000000000000000000000000000000']);
const LISTEN = '0A';

/** True when /proc/net/tcp or tcp6 text lists a socket listening on every address at this port. */
export function listensOnAllAddresses(procNetTcp: string, port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of procNetTcp.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const local = f[1];
    if (!local || f[3] !== LISTEN) continue;
    const [addr, p] = local.split(':');
    if (p === hexPort && WILDCARD.has(addr!)) return true;
  }
  return false;
}

/** Something on this machine listens on 0.0.0.0:port or [::]:port (reads /proc/net/tcp and tcp6). */
export function portHeldOnAllAddresses(port: number): boolean {
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      if (listensOnAllAddresses(readFileSync(f, 'utf8'), port)) return true;
    } catch {
      /* no IPv6 */
    }
  }
  return false;
}

/**
 * The port to use: the one asked for (flag or CERTROLL_LAB_SSH_PORT), else 22, else 2222 when port 22 is held on every
 * address. `why` is set when the fallback was chosen.
 */
export function chooseSshPort(asked: number | undefined, env: NodeJS.ProcessEnv = process.env, heldOnAll = portHeldOnAllAddresses): { port: number; why?: string } {
  if (asked !== undefined) return { port: asked };
  const fromEnv = Number(env.CERTROLL_LAB_SSH_PORT);
  if (env.CERTROLL_LAB_SSH_PORT && Number.isInteger(fromEnv)) return { port: fromEnv };
  if (!heldOnAll(DEFAULT_SSH_PORT)) return { port: DEFAULT_SSH_PORT };
  return { port: FALLBACK_SSH_PORT, why: `port ${DEFAULT_SSH_PORT} is held on every address of this machine (its own sshd?): the lab's hosts listen on ${FALLBACK_SSH_PORT} (--ssh-port or CERTROLL_LAB_SSH_PORT to choose)` };
}
