// Bastions (ProxyJump / ssh.jump): one SSH connection per bastion chain, shared by every host behind it, each hop's host
// key checked against known_hosts; a host's session travels in a direct-tcpip channel (ssh2 `forwardOut`) of the last hop.
import type ssh2Module from 'ssh2';
import { HostError } from '../errors.js';
import type { Host, JumpHost } from '../inventory/types.js';
import type { CredentialStore } from './auth.js';
import type { ConnectOptions } from './options.js';

type Client = InstanceType<typeof ssh2Module.Client>;
type Stream = NodeJS.ReadableStream & NodeJS.WritableStream;
type Handshake = (host: Host, opts: ConnectOptions, creds: CredentialStore, sock?: Stream) => Promise<Client>;

interface Entry {
  client: Promise<Client>;
  users: number;
  hop: JumpHost;
}

/** Open bastion connections of one fleet (one CredentialStore), by chain: `user@addr:port>user@addr:port`. */
const pools = new WeakMap<CredentialStore, Map<string, Entry>>();

const hopKey = (j: JumpHost) => `${j.user}@${j.address}:${j.port}`;

/** The hop as a Host, so the ordinary handshake (known_hosts, identity, agent, password) applies to it. */
function hopAsHost(hop: JumpHost, behind: Host): Host {
  return {
    name: `bastion ${hop.name}`,
    address: hop.address,
    hostname: hop.address,
    groups: [],
    ssh: {
      ...behind.ssh,
      user: hop.user,
      port: hop.port,
      knownHostsFile: hop.knownHostsFile,
      connectTimeout: hop.connectTimeout,
      identitiesOnly: hop.identitiesOnly,
      become: false,
      ...(hop.identityFile ? { identityFile: hop.identityFile } : {}),
      identityFiles: hop.identityFiles ?? [],
      jumps: [],
    },
    vars: behind.vars,
    definedAt: behind.definedAt,
  };
}

/** A HostError of a hop, told as the host's failure, naming the hop. */
function hopFailure(host: Host, hop: JumpHost, err: unknown): HostError {
  if (err instanceof HostError) {
    const prefix = `bastion ${hop.name}: `;
    const msg = err.shortMessage.startsWith(prefix) ? err.shortMessage.slice(prefix.length) : err.shortMessage;
    return new HostError(host.name, err.kind, `${host.name}: via bastion ${hop.name} (${hop.address}:${hop.port}, set at ${hop.from}): ${msg}`, err.hint, err.detail);
  }
  return new HostError(host.name, 'connect', `${host.name}: via bastion ${hop.name}: ${(err as Error).message}`);
}

function forwardOut(client: Client, address: string, port: number): Promise<Stream> {
  return new Promise((resolve, reject) => {
    client.forwardOut('127.0.0.1', 0, address, port, (err, stream) => (err ? reject(err) : resolve(stream as unknown as Stream)));
  });
}

/**
 * A stream to `host`'s sshd through its bastions. The bastion connections are opened once per fleet and shared;
 * `release()` (idempotent) gives this host's use back, and the last user closes them.
 */
export async function tunnelThroughBastions(host: Host, opts: ConnectOptions, creds: CredentialStore, handshake: Handshake): Promise<{ sock: Stream; release: () => void }> {
  const hops = host.ssh.jumps ?? [];
  let pool = pools.get(creds);
  if (!pool) pools.set(creds, (pool = new Map()));
  const held: Array<[string, Entry]> = [];
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    for (const [key, e] of held.reverse()) {
      if (--e.users > 0) continue;
      pool.delete(key);
      void e.client.then((c) => c.end(), () => undefined);
    }
  };
  try {
    let prev: Client | undefined;
    let key = '';
    for (const hop of hops) {
      key = key ? `${key}>${hopKey(hop)}` : hopKey(hop);
      let e = pool.get(key);
      if (!e) {
        const via = prev;
        const thisKey = key;
        const client = (async () => {
          let sock: Stream | undefined;
          if (via) {
            try {
              sock = await forwardOut(via, hop.address, hop.port);
            } catch (err) {
              throw new HostError(`bastion ${hop.name}`, 'connect', `bastion ${hop.name}: the bastion before it cannot reach ${hop.address}:${hop.port}: ${(err as Error).message}`,
                `check that ${hop.address}:${hop.port} is reachable from the previous bastion`);
            }
          }
          const c = await handshake(hopAsHost(hop, host), opts, creds, sock);
          opts.onEvent?.({ type: 'bastion-connected', host: host.name, bastion: hop.name, address: hop.address, port: hop.port });
          // A bastion that goes away takes its entry along: the next host opens a fresh one.
          c.once('close', () => {
            if (pool.get(thisKey)?.client === client) pool.delete(thisKey);
          });
          return c;
        })();
        e = { client, users: 0, hop };
        pool.set(key, e);
        const entry = e;
        client.catch(() => {
          if (pool.get(thisKey) === entry) pool.delete(thisKey);
        });
      }
      e.users++;
      held.push([key, e]);
      try {
        prev = await e.client;
      } catch (err) {
        throw hopFailure(host, hop, err);
      }
    }
    let sock: Stream;
    try {
      sock = await forwardOut(prev!, host.address, host.ssh.port);
    } catch (err) {
      const last = hops[hops.length - 1]!;
      throw new HostError(host.name, 'connect', `${host.name}: bastion ${last.name} cannot reach ${host.address}:${host.ssh.port}: ${(err as Error).message}`,
        `check that sshd listens on ${host.address}:${host.ssh.port} and that the bastion may connect there (AllowTcpForwarding on the bastion)`);
    }
    return { sock, release };
  } catch (err) {
    release();
    throw err;
  }
}
