// End-to-end: connecting to a real sshd — known_hosts forms, unknown/changed keys, accept-new, key/passphrase/password auth, and connect failures.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostError } from '../../src/errors.js';
import { connect } from '../../src/ssh/connection.js';
import { openFleet } from '../../src/ssh/fleet.js';
import { fingerprintSha256 } from '../../src/ssh/known-hosts.js';
import { ensureTestUser, generateKey, knownHostsField, startSshd, type TestSshd } from '../support/sshd.js';

const ADDRESS = process.env.CERTROLL_TEST_SSHD_ADDRESS ?? '127.0.66.1';
const PORT = Number(process.env.CERTROLL_TEST_SSHD_PORT ?? 2222);
const PW_USER = 'certroll-t-pwlogin';
const PW = "pw with 'quotes' and $(stuff)";

async function ok(p: Promise<{ exec(a: string[]): Promise<{ stdout: string }>; close(): Promise<void> }>): Promise<string> {
  const r = await p;
  try {
    return (await r.exec(['echo', 'hi'])).stdout;
  } finally {
    await r.close();
  }
}

async function failure(p: Promise<unknown>): Promise<HostError> {
  const err = await p.then(
    (r) => {
      void (r as { close(): Promise<void> }).close();
      return new Error('connected, but should have failed');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HostError);
  return err as HostError;
}

describe('connecting to a real sshd', () => {
  let sshd: TestSshd;
  let scratch: string;

  beforeAll(async () => {
    sshd = await startSshd({ address: ADDRESS, port: PORT });
    scratch = mkdtempSync(join(tmpdir(), 'certroll-connect-'));
    await ensureTestUser(PW_USER, { sudo: 'none', password: PW });
  });
  afterAll(async () => {
    await sshd?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('turns Nagle off on the SSH socket (TCP_NODELAY), before the handshake', async () => {
    // With Nagle on, each small SSH write waited for the peer's delayed ACK: ~90 ms per exec round trip on loopback.
    const original = Socket.prototype.setNoDelay;
    const seen: Array<{ sock: Socket; on: boolean; beforeReady: boolean }> = [];
    let ready = false;
    Socket.prototype.setNoDelay = function (this: Socket, on?: boolean) {
      seen.push({ sock: this, on: on !== false, beforeReady: !ready });
      return original.call(this, on);
    };
    try {
      const kh = await sshd.writeKnownHosts([sshd.knownHostsLine('plain')]);
      const r = await connect(sshd.host('h', { knownHostsFile: kh }));
      ready = true;
      try {
        const mine = seen.filter((c) => c.sock.remotePort === PORT && c.sock.remoteAddress === ADDRESS);
        expect(mine.length).toBeGreaterThan(0);
        expect(mine.every((c) => c.on && c.beforeReady)).toBe(true);
        expect((await r.exec(['echo', 'hi'])).stdout).toBe('hi\n');
      } finally {
        await r.close();
      }
    } finally {
      Socket.prototype.setNoDelay = original;
    }
  });

  describe('host keys', () => {
    it('accepts a key listed in [host]:port form', async () => {
      const kh = await sshd.writeKnownHosts([sshd.knownHostsLine('plain')]);
      expect(await ok(connect(sshd.host('h', { knownHostsFile: kh })))).toBe('hi\n');
    });

    it('accepts a hashed |1| entry', async () => {
      const kh = await sshd.writeKnownHosts(['# a comment', 'other.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1uG0Y4Zx8w0m1sE8rXPO3Jd1E6E2m4G0t1g3RCsm7p', sshd.knownHostsLine('hashed')]);
      expect(await ok(connect(sshd.host('h', { knownHostsFile: kh })))).toBe('hi\n');
    });

    it('accepts an entry in a comma-separated host list with a wildcard', async () => {
      const key = sshd.hostKey.publicLine.split(' ').slice(0, 2).join(' ');
      const kh = await sshd.writeKnownHosts([`somehost,[${ADDRESS.replace(/\.\d+$/, '.*')}]:${sshd.port},!elsewhere ${key}`]);
      expect(await ok(connect(sshd.host('h', { knownHostsFile: kh })))).toBe('hi\n');
    });

    it('refuses an unknown host with its SHA256 fingerprint', async () => {
      const kh = await sshd.writeKnownHosts([]);
      const err = await failure(connect(sshd.host('unknown-h', { knownHostsFile: kh })));
      expect(err.kind).toBe('host-key');
      expect(err.host).toBe('unknown-h');
      expect(err.message).toContain(fingerprintSha256(sshd.hostKey.blob));
      expect(err.message).toMatch(/SHA256:[A-Za-z0-9+/]{43}(?!=)/);
      expect(err.hint).toMatch(/--accept-new-host-keys/);
    });

    it('does not treat a plain host entry as valid for another port', async () => {
      const key = sshd.hostKey.publicLine.split(' ').slice(0, 2).join(' ');
      const kh = await sshd.writeKnownHosts([`${sshd.address} ${key}`]);
      expect((await failure(connect(sshd.host('h', { knownHostsFile: kh })))).kind).toBe('host-key');
    });

    it('refuses a changed key and prints the ssh-keygen -R fix, even with accept-new', async () => {
      const other = await generateKey(scratch, `other-${Date.now()}`);
      const kh = await sshd.writeKnownHosts([`${knownHostsField(sshd.address, sshd.port, 'plain')} ${other.publicLine}`]);
      const before = readFileSync(kh, 'utf8');
      const err = await failure(connect(sshd.host('changed-h', { knownHostsFile: kh }), { acceptNewHostKeys: true }));
      expect(err.kind).toBe('host-key');
      expect(err.message).toMatch(/CHANGED/);
      expect(err.message).toContain(fingerprintSha256(sshd.hostKey.blob));
      expect(err.hint).toContain(`ssh-keygen -f ${kh} -R '[${sshd.address}]:${sshd.port}'`);
      expect(readFileSync(kh, 'utf8')).toBe(before);
    });

    it('refuses a key marked @revoked', async () => {
      const kh = await sshd.writeKnownHosts([`@revoked * ${sshd.hostKey.publicLine}`, sshd.knownHostsLine()]);
      const err = await failure(connect(sshd.host('h', { knownHostsFile: kh }), { acceptNewHostKeys: true }));
      expect(err.message).toMatch(/revoked/);
    });

    it('adds an unknown key with --accept-new-host-keys, then trusts it', async () => {
      const kh = join(scratch, 'new-dir', 'known_hosts');
      const events: string[] = [];
      expect(await ok(connect(sshd.host('h', { knownHostsFile: kh }), { acceptNewHostKeys: true, onEvent: (e) => events.push(e.type) }))).toBe('hi\n');
      expect(events).toContain('host-key-added');
      const text = readFileSync(kh, 'utf8');
      expect(text).toBe(`[${sshd.address}]:${sshd.port} ${sshd.hostKey.publicLine.split(' ').slice(0, 2).join(' ')}\n`);
      expect(await ok(connect(sshd.host('h', { knownHostsFile: kh })))).toBe('hi\n');
      expect(readFileSync(kh, 'utf8')).toBe(text);
    });
  });

  describe('authentication', () => {
    it('uses an encrypted identity with the passphrase from CERTROLL_KEY_PASSPHRASE', async () => {
      const key = await generateKey(scratch, `enc-${Date.now()}`, { passphrase: 'correct horse' });
      await sshd.authorize('root', key.publicLine);
      const kh = await sshd.writeKnownHosts();
      expect(await ok(connect(sshd.host('h', { knownHostsFile: kh, identityFile: key.privateKeyFile }), { env: { CERTROLL_KEY_PASSPHRASE: 'correct horse' } }))).toBe('hi\n');
      let asked = 0;
      const viaPrompt = connect(sshd.host('h', { knownHostsFile: kh, identityFile: key.privateKeyFile }), {
        env: {},
        passphrase: async () => {
          asked++;
          return 'correct horse';
        },
      });
      expect(await ok(viaPrompt)).toBe('hi\n');
      expect(asked).toBe(1);
      const wrong = await failure(connect(sshd.host('h', { knownHostsFile: kh, identityFile: key.privateKeyFile }), { env: { CERTROLL_KEY_PASSPHRASE: 'nope' } }));
      expect(wrong.kind).toBe('auth');
      expect(wrong.message).not.toContain('nope');
    });

    it('refuses a key that is not authorized with HostError kind auth', async () => {
      const stranger = await generateKey(scratch, `stranger-${Date.now()}`);
      const kh = await sshd.writeKnownHosts();
      const err = await failure(connect(sshd.host('auth-h', { knownHostsFile: kh, identityFile: stranger.privateKeyFile }), { env: {} }));
      expect(err.kind).toBe('auth');
      expect(err.message).toContain('auth-h');
      expect(err.message).toContain('publickey');
    });

    it('logs in with a password from CERTROLL_SSH_PASSWORD or the prompt, and never prints it', async () => {
      const kh = await sshd.writeKnownHosts();
      const host = sshd.host('pw-h', { knownHostsFile: kh, user: PW_USER, identityFile: undefined });
      expect(await ok(connect(host, { env: { CERTROLL_SSH_PASSWORD: PW } }))).toBe('hi\n');
      expect(await ok(connect(host, { env: {}, password: async () => PW }))).toBe('hi\n');
      const err = await failure(connect(host, { env: { CERTROLL_SSH_PASSWORD: 'wrong-secret-pw' } }));
      expect(err.kind).toBe('auth');
      expect(JSON.stringify({ ...err, m: err.message })).not.toContain('wrong-secret-pw');
    });

    it('uses keys from ssh-agent (SSH_AUTH_SOCK)', async () => {
      const { execFileSync, spawnSync } = await import('node:child_process');
      const sock = join(scratch, `agent-${Date.now()}.sock`);
      const out = execFileSync('ssh-agent', ['-a', sock, '-s']).toString();
      const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)![1]);
      try {
        const key = await generateKey(scratch, `agent-key-${Date.now()}`);
        await sshd.authorize('root', key.publicLine);
        expect(spawnSync('ssh-add', [key.privateKeyFile], { env: { SSH_AUTH_SOCK: sock } }).status).toBe(0);
        const kh = await sshd.writeKnownHosts();
        expect(await ok(connect(sshd.host('h', { knownHostsFile: kh, identityFile: undefined }), { env: { SSH_AUTH_SOCK: sock } }))).toBe('hi\n');
      } finally {
        process.kill(pid, 'SIGTERM');
      }
    });
  });

  describe('failures', () => {
    it('names the host when the port is closed', async () => {
      const kh = await sshd.writeKnownHosts();
      const err = await failure(connect({ ...sshd.host('closed-h', { knownHostsFile: kh }), ssh: { ...sshd.host('x').ssh, port: 1, knownHostsFile: kh } }));
      expect(err).toMatchObject({ kind: 'connect', host: 'closed-h' });
      expect(err.message).toMatch(/closed-h.*refused/);
      expect(err.hint).toMatch(/sshd/);
    });

    it('reports a DNS failure as kind dns', async () => {
      const h = sshd.host('dns-h');
      const err = await failure(connect({ ...h, address: 'no-such-host.invalid' }));
      expect(err).toMatchObject({ kind: 'dns', host: 'dns-h' });
    });

    it('reports a silent server as kind timeout', async () => {
      const net = await import('node:net');
      const silent = net.createServer(() => undefined);
      await new Promise<void>((r) => silent.listen(0, sshd.address, () => r()));
      const port = (silent.address() as { port: number }).port;
      try {
        const h = sshd.host('silent-h', { port, connectTimeout: 1 });
        const err = await failure(connect(h));
        expect(err).toMatchObject({ kind: 'timeout', host: 'silent-h' });
      } finally {
        silent.close();
      }
    });

    it('opens a fleet where one bad host does not stop the others', async () => {
      const kh = await sshd.writeKnownHosts();
      const good = ['a', 'b', 'c'].map((n) => sshd.host(n, { knownHostsFile: kh }));
      const bad = sshd.host('bad', { knownHostsFile: kh, port: 1 });
      const fleet = await openFleet([...good, bad], { forks: 2 });
      try {
        expect([...fleet.remotes.keys()]).toEqual(['a', 'b', 'c']);
        expect(fleet.errors.get('bad')).toMatchObject({ kind: 'connect' });
        const out = await fleet.run(async (r) => (await r.exec(['echo', r.host])).stdout);
        expect(out).toEqual([
          { host: 'a', ok: true, value: 'a\n' },
          { host: 'b', ok: true, value: 'b\n' },
          { host: 'c', ok: true, value: 'c\n' },
        ]);
        expect(fleet.counters()).toEqual({ connections: 3, roundTrips: 3 });
      } finally {
        await fleet.close();
      }
    });
  });
});
