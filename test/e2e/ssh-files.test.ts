// End-to-end: file transfer over a real sshd — atomic writes (SFTP, exec fallback without SFTP, and sudo for become hosts), read, stat, mkdir, rename.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type SshRemote } from '../../src/ssh/connection.js';
import type { SshEvent } from '../../src/ssh/options.js';
import { ensureTestUser, startSshd, type TestSshd } from '../support/sshd.js';

const ADDRESS = process.env.CERTROLL_TEST_SSHD_ADDRESS ?? '127.0.66.1';
const PORT = Number(process.env.CERTROLL_TEST_SSHD_PORT ?? 2222);
const SUDO_USER = 'certroll-t-sudo';
const SUDOPW_USER = 'certroll-t-sudopw';
const SUDOPW = 'sudo pass; $(no) \'quote\'';

/** The same behaviour whatever carries the bytes. */
function fileSuite(label: string, setup: () => Promise<{ remote: SshRemote; dir: string; cleanup: () => Promise<void> }>, expectOwner?: number) {
  describe(label, () => {
    let remote: SshRemote;
    let dir: string;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ remote, dir, cleanup } = await setup());
    });
    afterAll(async () => {
      await cleanup?.();
    });

    it('writes atomically: content, mode 0600 for a key, no temp file left behind', async () => {
      const path = join(dir, 'etcd-key.pem');
      const data = Buffer.from([0, 1, 2, 255, 10, 13, 0x27, 0x24]);
      await remote.writeFileAtomic(path, data);
      expect(readFileSync(path)).toEqual(data);
      expect(statSync(path).mode & 0o7777).toBe(0o600);
      if (expectOwner !== undefined) expect(statSync(path).uid).toBe(expectOwner);
      expect(readdirSync(dir).filter((n) => n.includes('certroll-tmp'))).toEqual([]);
    });

    it('replaces an existing file and applies the requested mode', async () => {
      const path = join(dir, 'etcd.pem');
      await remote.writeFileAtomic(path, 'old\n');
      expect(statSync(path).mode & 0o7777).toBe(0o644);
      await remote.writeFileAtomic(path, 'new\n', { mode: 0o640 });
      expect(readFileSync(path, 'utf8')).toBe('new\n');
      expect(statSync(path).mode & 0o7777).toBe(0o640);
      expect(readdirSync(dir).filter((n) => n.includes('certroll-tmp'))).toEqual([]);
    });

    it('writes and reads back a large binary file', async () => {
      const path = join(dir, 'big.bin');
      const data = Buffer.alloc(300_000);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
      await remote.writeFileAtomic(path, data);
      expect((await remote.readFile(path)).equals(data)).toBe(true);
    });

    it('stats files, directories and missing paths', async () => {
      const path = join(dir, 'stat-me');
      await remote.writeFileAtomic(path, 'x'.repeat(123), { mode: 0o600 });
      const st = await remote.stat(path);
      expect(st).toMatchObject({ path, size: 123, mode: 0o600, isFile: true, isDirectory: false });
      expect(st!.mtimeMs).toBeGreaterThan(0);
      expect(await remote.stat(dir)).toMatchObject({ isDirectory: true, isFile: false });
      expect(await remote.stat(join(dir, 'missing'))).toBeNull();
    });

    it('makes directories, recursively and with a mode', async () => {
      const deep = join(dir, 'a', 'b', 'c');
      await remote.mkdir(deep, { recursive: true });
      expect(statSync(deep).isDirectory()).toBe(true);
      await remote.mkdir(deep, { recursive: true });
      const one = join(dir, 'private');
      await remote.mkdir(one, { mode: 0o700 });
      expect(statSync(one).mode & 0o7777).toBe(0o700);
      await expect(remote.mkdir(one)).rejects.toMatchObject({ host: remote.host });
    });

    it('renames over an existing file', async () => {
      const a = join(dir, 'rename-a');
      const b = join(dir, 'rename-b');
      await remote.writeFileAtomic(a, 'A');
      await remote.writeFileAtomic(b, 'B');
      await remote.rename(a, b);
      expect(readFileSync(b, 'utf8')).toBe('A');
      expect(await remote.stat(a)).toBeNull();
    });

    it('handles paths with spaces and quotes', async () => {
      const path = join(dir, "we'ird $(x) name.pem");
      await remote.writeFileAtomic(path, 'ok');
      expect((await remote.readFile(path)).toString()).toBe('ok');
    });

    it('fails a read of a missing file with a HostError for that host', async () => {
      await expect(remote.readFile(join(dir, 'nope'))).rejects.toMatchObject({ host: remote.host });
    });
  });
}

describe('file transfer', () => {
  let sshd: TestSshd;
  let noSftp: TestSshd;
  let knownHosts: string;
  let noSftpKnownHosts: string;
  const remotes: SshRemote[] = [];
  const events: SshEvent[] = [];

  beforeAll(async () => {
    sshd = await startSshd({ address: ADDRESS, port: PORT });
    knownHosts = await sshd.writeKnownHosts();
    noSftp = await startSshd({ address: ADDRESS, port: PORT + 1, sftp: false });
    noSftpKnownHosts = await noSftp.writeKnownHosts();
    await ensureTestUser(SUDO_USER, { sudo: 'nopasswd', password: 'unused-' + Math.random() });
    await ensureTestUser(SUDOPW_USER, { sudo: 'password', password: SUDOPW });
    await sshd.authorize(SUDO_USER, sshd.clientKey.publicLine);
    await sshd.authorize(SUDOPW_USER, sshd.clientKey.publicLine);
  });
  afterAll(async () => {
    await Promise.all(remotes.map((r) => r.close()));
    await sshd?.stop();
    await noSftp?.stop();
  });

  const tmpDir = (mode = 0o700) => {
    const d = mkdtempSync(join(tmpdir(), 'certroll-files-'));
    chmodSync(d, mode);
    return d;
  };

  fileSuite('over SFTP as root', async () => {
    const remote = await connect(sshd.host('sftp-host', { knownHostsFile: knownHosts }));
    remotes.push(remote);
    const dir = tmpDir();
    return { remote, dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }, 0);

  fileSuite('over exec when the host has no SFTP subsystem', async () => {
    const remote = await connect(noSftp.host('no-sftp-host', { knownHostsFile: noSftpKnownHosts }), { onEvent: (e) => events.push(e) });
    remotes.push(remote);
    const dir = tmpDir();
    return { remote, dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }, 0);

  fileSuite('through sudo -n for a become host (NOPASSWD)', async () => {
    const remote = await connect(sshd.host('become-host', { knownHostsFile: knownHosts, user: SUDO_USER, become: true }));
    remotes.push(remote);
    const dir = tmpDir(); // 0700 root: the login user alone could not write here
    return { remote, dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }, 0);

  fileSuite('through sudo -S with the password on stdin', async () => {
    const remote = await connect(sshd.host('become-pw-host', { knownHostsFile: knownHosts, user: SUDOPW_USER, become: true }), {
      env: { CERTROLL_BECOME_PASSWORD: SUDOPW },
    });
    remotes.push(remote);
    const dir = tmpDir();
    return { remote, dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }, 0);

  it('records a note and an event when SFTP is unavailable', async () => {
    const r = remotes.find((x) => x.host === 'no-sftp-host')!;
    expect(await r.fileTransport()).toBe('exec');
    expect(r.notes.join('\n')).toMatch(/no SFTP subsystem/);
    expect(events.some((e) => e.type === 'sftp-unavailable' && e.host === 'no-sftp-host')).toBe(true);
  });

  it('runs commands as root on become hosts, and as the login user with become: false', async () => {
    const r = remotes.find((x) => x.host === 'become-pw-host')!;
    expect((await r.exec(['id', '-u'])).stdout).toBe('0\n');
    expect((await r.exec(['id', '-un'], { become: false })).stdout).toBe(`${SUDOPW_USER}\n`);
    // stdin after the password line reaches the command intact
    expect((await r.exec(['cat'], { stdin: 'payload\n' })).stdout).toBe('payload\n');
    const n = remotes.find((x) => x.host === 'become-host')!;
    expect((await n.exec(['id', '-u'])).stdout).toBe('0\n');
  });

  it('explains a sudo that wants a password nobody gave', async () => {
    const r = await connect(sshd.host('become-nopw', { knownHostsFile: knownHosts, user: SUDOPW_USER, become: true }), { env: {} });
    try {
      const err = await r.exec(['true']).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'auth', host: 'become-nopw' });
      expect(String(err)).toMatch(/CERTROLL_BECOME_PASSWORD/);
    } finally {
      await r.close();
    }
  });

  it('writes a file owned by another user when asked', async () => {
    const r = remotes.find((x) => x.host === 'sftp-host')!;
    const dir = tmpDir();
    const uid = Number(execFileSync('id', ['-u', SUDO_USER]).toString());
    const gid = Number(execFileSync('id', ['-g', SUDO_USER]).toString());
    await r.writeFileAtomic(join(dir, 'owned'), 'x', { uid, gid });
    expect(statSync(join(dir, 'owned'))).toMatchObject({ uid, gid });
    const b = remotes.find((x) => x.host === 'become-host')!;
    await b.writeFileAtomic(join(dir, 'owned2'), 'x', { uid });
    expect(statSync(join(dir, 'owned2')).uid).toBe(uid);
    rmSync(dir, { recursive: true, force: true });
  });
});
