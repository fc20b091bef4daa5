// End-to-end: exec over one real sshd connection — exit codes, output, hostile strings echoed back byte-exact, reuse, parallelism.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostError } from '../../src/errors.js';
import { connect, type SshRemote } from '../../src/ssh/connection.js';
import { quote, raw, sh } from '../../src/ssh/quote.js';
import { startSshd, type TestSshd } from '../support/sshd.js';

const ADDRESS = process.env.CERTROLL_TEST_SSHD_ADDRESS ?? '127.0.66.1';
const PORT = Number(process.env.CERTROLL_TEST_SSHD_PORT ?? 2222);

const hostile = [
  "it's",
  '"double" and \'single\'',
  '$(touch /tmp/certroll-pwned)',
  '`id`',
  '${HOME}',
  '$HOME',
  'a;b && c || d',
  '* ? [a-z]',
  '-n',
  '--help',
  '-e \\n',
  'line1\nline2\n',
  '\ttab\r\n',
  'back\\slash\\',
  '~root',
  'x=y',
  '#comment',
  '!event',
  'ünïcödé ✓ 🔑',
  '',
  ' ',
  "'",
  "''",
  '\\\'',
  '>out <in | pipe & bg',
  '\x01\x7f\u00a0',
];

describe('exec over a real sshd', () => {
  let sshd: TestSshd;
  let remote: SshRemote;

  beforeAll(async () => {
    sshd = await startSshd({ address: ADDRESS, port: PORT });
    const knownHosts = await sshd.writeKnownHosts();
    remote = await connect(sshd.host('exec-host', { knownHostsFile: knownHosts }));
  });
  afterAll(async () => {
    await remote?.close();
    await sshd?.stop();
  });

  it('returns exit code, stdout and stderr of a command', async () => {
    const r = await remote.sh('echo out; echo err >&2; exit 3', { allowFailure: true });
    expect(r).toMatchObject({ host: 'exec-host', exitCode: 3, stdout: 'out\n', stderr: 'err\n', signal: null });
  });

  it('rejects a non-zero exit with HostError kind command carrying the stderr tail', async () => {
    const err = await remote.exec(['ls', '/definitely/not/here']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostError);
    expect(err).toMatchObject({ host: 'exec-host', kind: 'command' });
    expect((err as HostError).detail).toMatch(/No such file/);
  });

  it('passes every hostile string through the remote shell byte-exact', async () => {
    for (const s of hostile) {
      const r = await remote.exec(['printf', '%s', s]);
      expect(r.stdout, JSON.stringify(s)).toBe(s);
    }
    const viaTemplate = await remote.sh(sh`printf '%s|' ${hostile}`);
    expect(viaTemplate.stdout).toBe(hostile.map((s) => s + '|').join(''));
    const nested = await remote.sh(sh`for a in ${hostile}; do printf '%s|' "$a"; done ${raw('>&1')}`);
    expect(nested.stdout).toBe(hostile.map((s) => s + '|').join(''));
    const check = await remote.exec(['sh', '-c', `test -e /tmp/certroll-pwned && echo pwned || echo clean`]);
    expect(check.stdout).toBe('clean\n');
  });

  it('sends stdin to the command and returns stdout as utf8', async () => {
    const r = await remote.exec(['cat'], { stdin: 'hello ünïcödé\n' });
    expect(r.stdout).toBe('hello ünïcödé\n');
  });

  it('times out a command with HostError kind timeout and keeps the connection usable', async () => {
    const err = await remote.exec(['sleep', '30'], { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'timeout', host: 'exec-host' });
    expect((await remote.exec(['echo', 'still here'])).stdout).toBe('still here\n');
  });

  it('reuses one connection for 50 commands', async () => {
    const before = { ...remote.counters };
    for (let i = 0; i < 50; i++) {
      expect((await remote.exec(['echo', String(i)])).stdout).toBe(`${i}\n`);
    }
    expect(remote.counters.connections).toBe(1);
    expect(remote.counters.roundTrips - before.roundTrips).toBe(50);
  });

  it('runs 30 commands in parallel on one connection (more than sshd MaxSessions)', async () => {
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => remote.sh(sh`sleep 0.1; echo ${String(i)}`)));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 30 }, (_, i) => `${i}\n`));
    expect(remote.counters.connections).toBe(1);
  });

  it('quotes argv for the command line it reports', async () => {
    const r = await remote.exec(['echo', 'a b', "it's"]);
    expect(r.command).toBe(`echo ${quote('a b')} ${quote("it's")}`);
  });

  it('a prelude runs first in the same exec (one round trip), silent, and the command keeps its stdin, output, exit code and shown line', async () => {
    const before = remote.counters.roundTrips;
    const mark = `/tmp/certroll-prelude-${process.pid}`;
    const r = await remote.sh(sh`cat; test -f ${mark} && echo prelude-ran; rm -f ${mark}; exit 4`, { stdin: "it's stdin\n", allowFailure: true, prelude: sh`echo noise; echo noise >&2; cat; touch ${mark}; exit 9` });
    expect(r).toMatchObject({ exitCode: 4, stdout: "it's stdin\nprelude-ran\n", stderr: '' });
    expect(r.command).toBe(`sh -c ${quote(sh`cat; test -f ${mark} && echo prelude-ran; rm -f ${mark}; exit 4`)}`);
    const e = await remote.exec(['ls', '/definitely/not/here'], { prelude: 'true' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ kind: 'command' });
    expect((e as HostError).message).toContain("`ls /definitely/not/here` exited with 2");
    expect(remote.counters.roundTrips - before).toBe(2);
  });

  it('rejects every call after close with HostError kind closed', async () => {
    const other = await connect(sshd.host('closing-host', { knownHostsFile: (remote.hostInfo.ssh.knownHostsFile) }));
    const pending = other.exec(['sleep', '10']).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    await other.close();
    expect(await pending).toMatchObject({ kind: 'closed', host: 'closing-host' });
    expect(await other.exec(['true']).catch((e: unknown) => e)).toMatchObject({ kind: 'closed' });
  });
});
