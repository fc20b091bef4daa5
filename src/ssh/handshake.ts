// The SSH handshake with one host (or bastion hop): the host key checked against known_hosts (added only when asked), then authentication.
import { homedir } from 'node:os';
import { posix } from 'node:path';
import type { ConnectConfig } from 'ssh2';
import type ssh2Module from 'ssh2';
import { HostError } from '../errors.js';
import type { Host } from '../inventory/types.js';
import { lazyRequire } from '../lazy.js';
import { type CredentialStore, makeAuthHandler } from './auth.js';
import type { Client } from './exec.js';
import { connectFailure } from './host-errors.js';
import {
  appendKnownHost,
  checkHostKey,
  fingerprintSha256,
  hostKeyAlgorithmsFor,
  knownHostsName,
  knownKeyTypes,
  type HostKeyVerdict,
} from './known-hosts.js';
import type { ConnectOptions } from './options.js';
import { quote } from './quote.js';

// ssh2 is CommonJS: take its members from the default export (named imports fail under plain Node ESM).
const ssh2 = lazyRequire<typeof ssh2Module>('ssh2');

/** Host key algorithms ssh2 can verify, in its default preference order. */
const SUPPORTED_HOST_KEY_ALGOS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/** Expand a leading `~/` (the inventory loader normally has already). */
export function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? posix.join(homedir(), p.slice(2)) : p;
}

function hostKeyError(host: Host, verdict: HostKeyVerdict, presented: Buffer, file: string): HostError {
  const name = host.name;
  const fp = fingerprintSha256(presented);
  const lookup = knownHostsName(host.address, host.ssh.port);
  const fix = `ssh-keygen -f ${quote(file)} -R ${quote(lookup)}`;
  switch (verdict.status) {
    case 'changed': {
      const lines = verdict.expected.map((e) => `${file}:${e.line} (${e.keyType} ${fingerprintSha256(e.key)})`).join(', ');
      return new HostError(name, 'host-key',
        `${name}: HOST KEY CHANGED for ${lookup}: it presents ${fp}, known_hosts expects ${lines}`,
        `if the host was reinstalled on purpose, verify the new fingerprint out of band, remove the old entry with \`${fix}\` and run again with --accept-new-host-keys; otherwise someone may be intercepting the connection`);
    }
    case 'revoked':
      return new HostError(name, 'host-key', `${name}: host key ${fp} of ${lookup} is marked @revoked in ${file}:${verdict.entry.line}`,
        'the host must get a new host key; never accept the revoked one');
    case 'unknown':
      return new HostError(name, 'host-key',
        `${name}: host key of ${lookup} is unknown (${fp}); not in ${file}` +
          (verdict.certAuthorityOnly ? ' (only a @cert-authority line matches, and host certificates are not supported)' : ''),
        `verify the fingerprint (on the host: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then run again with --accept-new-host-keys, or add it with: ssh-keyscan -p ${host.ssh.port} ${quote(host.address)} >> ${quote(file)}`);
    default:
      return new HostError(name, 'host-key', `${name}: host key check failed for ${lookup}`);
  }
}

/** The SSH handshake with one host (or bastion hop): host key checked against known_hosts, then authentication. */
export async function handshake(host: Host, opts: ConnectOptions, creds: CredentialStore, sock?: NodeJS.ReadableStream & NodeJS.WritableStream): Promise<Client> {
  const knownHostsFile = expandHome(host.ssh.knownHostsFile);
  const entries = await creds.knownHosts(knownHostsFile);
  const serverHostKey = hostKeyAlgorithmsFor(knownKeyTypes(entries, host.address, host.ssh.port), SUPPORTED_HOST_KEY_ALGOS);
  const identity = host.ssh.identityFile ? await creds.identity(host.name, expandHome(host.ssh.identityFile)) : undefined;
  // More identity files from the OpenSSH config: tried after the first; one that cannot be read or decrypted is skipped.
  const more: Array<{ file: string; key: Awaited<ReturnType<CredentialStore['identity']>> }> = [];
  for (const file of host.ssh.identityFiles ?? []) {
    const key = await creds.identity(host.name, expandHome(file)).catch(() => undefined);
    if (key) more.push({ file, key });
  }
  const { handler, tried } = makeAuthHandler(host, creds, opts.env, identity, more);

  const client = new ssh2.Client();
  let hostKeyFailure: HostError | undefined;

  const hostVerifier = (key: Buffer, verify: (ok: boolean) => void): void => {
    void (async () => {
      const verdict = checkHostKey(await creds.knownHosts(knownHostsFile), host.address, host.ssh.port, key);
      if (verdict.status === 'known') return verify(true);
      if (verdict.status === 'unknown' && opts.acceptNewHostKeys) {
        await appendKnownHost(knownHostsFile, host.address, host.ssh.port, key);
        creds.forgetKnownHosts(knownHostsFile);
        opts.onEvent?.({ type: 'host-key-added', host: host.name, fingerprint: fingerprintSha256(key), file: knownHostsFile });
        return verify(true);
      }
      hostKeyFailure = hostKeyError(host, verdict, key, knownHostsFile);
      verify(false);
    })().catch((err: Error) => {
      hostKeyFailure = new HostError(host.name, 'host-key', `${host.name}: cannot check the host key against ${knownHostsFile}: ${err.message}`,
        'check that the known_hosts file is readable and writable');
      verify(false);
    });
  };

  const config: ConnectConfig = {
    host: host.address,
    port: host.ssh.port,
    username: host.ssh.user,
    readyTimeout: host.ssh.connectTimeout * 1000,
    keepaliveInterval: host.ssh.serverAliveInterval !== undefined ? host.ssh.serverAliveInterval * 1000 : opts.keepaliveIntervalMs,
    keepaliveCountMax: opts.keepaliveCountMax,
    hostVerifier: hostVerifier as ConnectConfig['hostVerifier'],
    authHandler: handler,
    algorithms: { serverHostKey: serverHostKey as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
    ...(sock ? { sock: sock as unknown as ConnectConfig['sock'] } : {}),
  };

  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      client.removeListener('ready', onReady);
      client.end();
      client.destroy();
      reject(hostKeyFailure ?? connectFailure(host, err, tried));
    };
    const onReady = () => {
      if (settled) return;
      settled = true;
      resolve();
    };
    client.on('ready', onReady);
    client.on('error', (err: Error & { level?: string }) => {
      // ssh2 reports a failing agent or key signature as an error and then tries the next method: not fatal.
      if (err.level === 'agent') return;
      fail(err);
    });
    client.on('close', () => fail(new Error('connection closed during the SSH handshake')));
    try {
      client.connect(config);
      // TCP_NODELAY from the first byte: every SSH exchange is a small write awaiting a small answer, and with Nagle's
      // algorithm on (Node's default) each one waited for the peer's delayed ACK: ~200 ms per handshake and ~90 ms per
      // exec round trip on loopback instead of ~40 ms and ~3 ms (docs/performance.md, "Nagle"). ssh2 applies it to the
      // TCP socket it creates; a tunnelled connection (a channel) has none and the bastion's own socket has it.
      client.setNoDelay(true);
    } catch (err) {
      fail(err as Error);
    }
  });
  return client;
}
