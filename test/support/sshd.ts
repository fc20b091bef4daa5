// Test helper: a throwaway real OpenSSH sshd on a chosen loopback address/port, with generated host and client keys, and test users.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile, chmod } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultClusterVars, defaultSshSettings, type Host, type SshSettings } from '../../src/inventory/types.js';

const run = promisify(execFile);

export interface SshdOptions {
  address: string;
  port: number;
  /** Offer the sftp subsystem (a hand-written sshd_config has none unless it says so). */
  sftp: boolean;
  passwordAuth: boolean;
  /** Run sshd in its own mount namespace with an empty /root, so root's commands skip the machine's slow .bashrc. */
  isolateRootHome: boolean;
  hostKeyType: 'ed25519' | 'ecdsa' | 'rsa';
  /** Extra sshd_config lines. */
  extraConfig: string[];
  /** Run sshd in this network namespace (`ip netns`): reachable only through the namespace's own links. */
  netns?: string;
}

export const defaultSshdOptions: SshdOptions = {
  address: '127.0.66.1',
  port: 2222,
  sftp: true,
  passwordAuth: true,
  isolateRootHome: true,
  hostKeyType: 'ed25519',
  extraConfig: [],
};

export interface KeyPair {
  privateKeyFile: string;
  /** The `.pub` line: `type base64 comment`. */
  publicLine: string;
  /** Raw public key blob. */
  blob: Buffer;
}

/** Generate a key pair with ssh-keygen in dir (optionally encrypted). */
export async function generateKey(dir: string, name: string, opts: { type?: string; passphrase?: string } = {}): Promise<KeyPair> {
  const file = join(dir, name);
  await run('ssh-keygen', ['-q', '-t', opts.type ?? 'ed25519', '-N', opts.passphrase ?? '', '-C', `certroll-test-${name}`, '-f', file]);
  const publicLine = (await readFile(`${file}.pub`, 'utf8')).trim();
  return { privateKeyFile: file, publicLine, blob: Buffer.from(publicLine.split(/\s+/)[1]!, 'base64') };
}

/** known_hosts host field for address:port in OpenSSH's plain, `[host]:port` or hashed `|1|` form. */
export function knownHostsField(address: string, port: number, form: 'plain' | 'hashed'): string {
  const name = port === 22 ? address : `[${address}]:${port}`;
  if (form === 'plain') return name;
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

export interface TestSshd {
  readonly address: string;
  readonly port: number;
  readonly dir: string;
  readonly hostKey: KeyPair;
  /** A client key authorized for root and for every user given to authorize(). */
  readonly clientKey: KeyPair;
  readonly pid: number;
  /** Authorize a public key line for a user (root by default). */
  authorize(user: string, publicLine: string): Promise<void>;
  /** One known_hosts line for this server's host key. */
  knownHostsLine(form?: 'plain' | 'hashed'): string;
  /** Write a known_hosts file with the given lines (default: this server, plain) and return its path. */
  writeKnownHosts(lines?: string[], name?: string): Promise<string>;
  /** A Host (inventory shape) pointing at this server. */
  host(name: string, ssh?: Partial<SshSettings>): Host;
  stop(): Promise<void>;
}

function waitForPort(address: string, port: number, proc: ChildProcess, stderr: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (proc.exitCode !== null) return reject(new Error(`sshd exited with ${proc.exitCode}: ${stderr()}`));
      const s = tcpConnect({ host: address, port });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) return reject(new Error(`sshd did not listen on ${address}:${port}: ${stderr()}`));
        setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** waitForPort inside a network namespace (the port is not reachable from this one). */
async function waitForPortIn(netns: string, address: string, port: number, proc: ChildProcess, stderr: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`sshd exited with ${proc.exitCode}: ${stderr()}`);
    const ok = await run('ip', ['netns', 'exec', netns, 'bash', '-c', `exec 3<>/dev/tcp/${address}/${port}`]).then(() => true, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd did not listen on ${address}:${port} in netns ${netns}: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Start sshd -D on options.address:options.port; call stop() when done. */
export async function startSshd(options: Partial<SshdOptions> = {}): Promise<TestSshd> {
  const o: SshdOptions = { ...defaultSshdOptions, ...options };
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(tmpdir(), 'certroll-sshd-'));
  await chmod(dir, 0o755);
  const keysDir = join(dir, 'authorized_keys');
  const home = join(dir, 'root-home');
  await mkdir(keysDir, { recursive: true });
  await mkdir(home, { recursive: true, mode: 0o700 });
  const hostKey = await generateKey(dir, 'ssh_host_key', { type: o.hostKeyType });
  const clientKey = await generateKey(dir, 'client_key');
  const authorized = new Map<string, string[]>();
  const authorize = async (user: string, line: string) => {
    const lines = [...(authorized.get(user) ?? []), line];
    authorized.set(user, lines);
    await writeFile(join(keysDir, user), lines.join('\n') + '\n', { mode: 0o644 });
  };
  await authorize('root', clientKey.publicLine);
  const config = [
    `ListenAddress ${o.address}:${o.port}`,
    `HostKey ${hostKey.privateKeyFile}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${keysDir}/%u`,
    'PermitRootLogin prohibit-password',
    `PasswordAuthentication ${o.passwordAuth ? 'yes' : 'no'}`,
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'PrintMotd no',
    'LogLevel ERROR',
    'MaxStartups 100:30:200',
    ...(o.sftp ? ['Subsystem sftp /usr/lib/openssh/sftp-server'] : []),
    ...o.extraConfig,
  ];
  const configFile = join(dir, 'sshd_config');
  await writeFile(configFile, config.join('\n') + '\n');
  const argv = o.isolateRootHome
    ? ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" /root && exec /usr/sbin/sshd -D -e -f "$2"', 'sh', home, configFile]
    : ['/usr/sbin/sshd', '-D', '-e', '-f', configFile];
  if (o.netns) argv.unshift('ip', 'netns', 'exec', o.netns);
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-4000);
  });
  if (o.netns) await waitForPortIn(o.netns, o.address, o.port, proc, () => stderr);
  else await waitForPort(o.address, o.port, proc, () => stderr);
  const pid = proc.pid!;

  const knownHostsLine = (form: 'plain' | 'hashed' = 'plain') => `${knownHostsField(o.address, o.port, form)} ${hostKey.publicLine.split(/\s+/).slice(0, 2).join(' ')}`;
  return {
    address: o.address,
    port: o.port,
    dir,
    hostKey,
    clientKey,
    pid,
    authorize,
    knownHostsLine,
    async writeKnownHosts(lines = [knownHostsLine()], name = `known_hosts-${randomBytes(4).toString('hex')}`) {
      const file = join(dir, name);
      await writeFile(file, lines.join('\n') + (lines.length ? '\n' : ''));
      return file;
    },
    host(name, ssh = {}) {
      return {
        name,
        address: o.address,
        hostname: name,
        ip: o.address,
        groups: [],
        ssh: { ...defaultSshSettings, port: o.port, identityFile: clientKey.privateKeyFile, knownHostsFile: join(dir, 'known_hosts'), connectTimeout: 5, ...ssh },
        vars: defaultClusterVars,
        definedAt: { file: 'test' },
      };
    },
    async stop() {
      // sshd serves each connection from a child process: end those first, then the listener (only processes we started).
      for (const child of await childPids(pid)) {
        try {
          process.kill(child, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function childPids(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/**
 * Create (once) a local user with /bin/sh as login shell for become tests; sudo: 'nopasswd' (NOPASSWD: ALL),
 * 'password' (sudo asks for the user's password) or 'none'. Needs root and the sudo package.
 */
export async function ensureTestUser(name: string, opts: { sudo: 'nopasswd' | 'password' | 'none'; password: string }): Promise<void> {
  try {
    await run('id', ['-u', name]);
  } catch {
    await run('useradd', ['--create-home', '--shell', '/bin/sh', name]);
  }
  await run('sh', ['-c', 'printf "%s:%s\\n" "$1" "$2" | chpasswd', 'sh', name, opts.password]);
  const sudoers = `/etc/sudoers.d/${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  if (opts.sudo === 'none') {
    await rm(sudoers, { force: true });
  } else {
    await writeFile(sudoers, `${name} ALL=(ALL:ALL) ${opts.sudo === 'nopasswd' ? 'NOPASSWD: ' : ''}ALL\n`, { mode: 0o440 });
  }
}
