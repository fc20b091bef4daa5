// Chooses how to log in to a host: identity file (decrypted with a passphrase from env or prompt), ssh-agent, then password.
import { readFile } from 'node:fs/promises';
import type { AnyAuthMethod, AuthHandlerMiddleware, ParsedKey } from 'ssh2';
import type ssh2Module from 'ssh2';
import { lazyRequire } from '../lazy.js';

// ssh2 is CommonJS: take its members from the default export (named imports fail under plain Node ESM).
const ssh2 = lazyRequire<typeof ssh2Module>('ssh2');
import { HostError } from '../errors.js';
import type { Host } from '../inventory/types.js';
import { Secret } from '../secret.js';
import { envNames, type ConnectOptions } from './options.js';
import { loadKnownHosts, type KnownHostEntry } from './known-hosts.js';

/** Decrypted identities and typed-in passwords, shared by the hosts of one run, kept in memory only. */
export class CredentialStore {
  readonly #keys = new Map<string, Promise<Secret<ParsedKey>>>();
  readonly #knownHosts = new Map<string, Promise<KnownHostEntry[]>>();
  #password?: Promise<Secret<string> | undefined>;
  #becomePassword?: Promise<Secret<string> | undefined>;

  constructor(private readonly opts: Pick<ConnectOptions, 'env' | 'passphrase' | 'password' | 'becomePassword'>) {}

  /** A known_hosts file parsed once per run (not once or twice per host); forget() it after appending to it. */
  knownHosts(file: string): Promise<KnownHostEntry[]> {
    let p = this.#knownHosts.get(file);
    if (!p) {
      p = loadKnownHosts(file);
      this.#knownHosts.set(file, p);
      p.catch(() => this.#knownHosts.delete(file));
    }
    return p;
  }

  forgetKnownHosts(file: string): void {
    this.#knownHosts.delete(file);
  }

  /** The parsed private key of an identity file, asking for its passphrase once if it is encrypted. */
  identity(host: string, file: string): Promise<Secret<ParsedKey>> {
    let p = this.#keys.get(file);
    if (!p) {
      p = this.#loadIdentity(host, file);
      this.#keys.set(file, p);
      p.catch(() => this.#keys.delete(file));
    }
    return p;
  }

  async #loadIdentity(host: string, file: string): Promise<Secret<ParsedKey>> {
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch (err) {
      throw new HostError(host, 'auth', `${host}: cannot read identity file ${file}: ${(err as Error).message}`,
        'check ssh.identityFile in the inventory');
    }
    let parsed = ssh2.utils.parseKey(data);
    if (parsed instanceof Error && /passphrase/i.test(parsed.message)) {
      const envPass = this.opts.env[envNames.keyPassphrase];
      let pass: string | undefined = envPass;
      if (pass === undefined && this.opts.passphrase) pass = await this.opts.passphrase();
      if (pass === undefined) {
        throw new HostError(host, 'auth', `${host}: identity file ${file} is encrypted and no passphrase was given`,
          `set ${envNames.keyPassphrase} or run in a terminal to be asked for it`);
      }
      parsed = ssh2.utils.parseKey(data, pass);
      if (parsed instanceof Error) {
        throw new HostError(host, 'auth', `${host}: cannot decrypt identity file ${file} (wrong passphrase?)`,
          `check ${envNames.keyPassphrase} or the passphrase you typed`);
      }
    }
    if (parsed instanceof Error) {
      throw new HostError(host, 'auth', `${host}: identity file ${file} is not a usable private key: ${parsed.message}`,
        'point ssh.identityFile at an OpenSSH or PEM private key');
    }
    const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey) : parsed;
    if (!key.isPrivateKey()) {
      throw new HostError(host, 'auth', `${host}: identity file ${file} holds no private key`, 'point ssh.identityFile at the private key, not the .pub');
    }
    return new Secret(key);
  }

  /** The SSH password, from CERTROLL_SSH_PASSWORD or the prompt (asked once); undefined when neither exists. */
  password(): Promise<Secret<string> | undefined> {
    return (this.#password ??= (async () => {
      const v = this.opts.env[envNames.sshPassword] ?? (this.opts.password ? await this.opts.password() : undefined);
      return v === undefined ? undefined : new Secret(v);
    })());
  }

  /** The sudo password: CERTROLL_BECOME_PASSWORD, the becomePassword prompt, else the SSH password. */
  becomePassword(): Promise<Secret<string> | undefined> {
    return (this.#becomePassword ??= (async () => {
      const v = this.opts.env[envNames.becomePassword] ?? (this.opts.becomePassword ? await this.opts.becomePassword() : undefined);
      if (v !== undefined) return new Secret(v);
      return this.password();
    })());
  }
}

export type AuthMethodName = 'publickey' | 'agent' | 'password';

/**
 * An ssh2 authHandler trying, in order: the identity file, the ssh-agent keys, the password.
 * `tried` records what was attempted, for the error message when every method is refused.
 */
export function makeAuthHandler(
  host: Host,
  store: CredentialStore,
  env: Record<string, string | undefined>,
  identity: Secret<ParsedKey> | undefined,
  /** Further identities (IdentityFile lines of the OpenSSH config after the first), tried in order after it. */
  more: Array<{ file: string; key: Secret<ParsedKey> }> = [],
): { handler: AuthHandlerMiddleware; tried: string[] } {
  const user = host.ssh.user;
  const tried: string[] = [];
  const agentSock = env[envNames.agentSocket];
  const queue: AuthMethodName[] = [];
  const identities = [...(identity ? [{ file: host.ssh.identityFile, key: identity }] : []), ...more];
  for (const _ of identities) queue.push('publickey');
  if (agentSock && !(host.ssh.identitiesOnly && identities.length)) queue.push('agent');
  queue.push('password');

  const handler: AuthHandlerMiddleware = (authsLeft, _partial, next) => {
    const pick = async (): Promise<AnyAuthMethod | false> => {
      while (queue.length > 0) {
        const m = queue.shift()!;
        if (authsLeft && !authsLeft.includes(m === 'agent' ? 'publickey' : m)) continue;
        if (m === 'publickey' && identities.length) {
          const id = identities.shift()!;
          tried.push(`publickey (${id.file})`);
          return { type: 'publickey', username: user, key: id.key.reveal() as unknown as Buffer };
        }
        if (m === 'agent' && agentSock) {
          tried.push('ssh-agent');
          return { type: 'agent', username: user, agent: agentSock };
        }
        if (m === 'password') {
          const pw = await store.password().catch(() => undefined);
          if (!pw) continue;
          tried.push('password');
          return { type: 'password', username: user, password: pw.reveal() };
        }
      }
      return false;
    };
    // ssh2 accepts `false` for "no more methods" although its typings do not say so.
    const done = next as (m: AnyAuthMethod | false) => void;
    pick().then(done, () => done(false));
  };
  return { handler, tried };
}
