// Several files in one exec (src/ssh/write-batch.ts), with the real shell against a temporary directory: exact bytes and
// modes, one round trip, nothing renamed when any file's sha256 differs, no temporary file left, no content on a command line.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalRemote } from '../../support/local-remote.js';
import { writeBatchScript, writeFilesAtomic } from '../../../src/ssh/write-batch.js';
import { sha256 } from '../../../src/hash.js';
import { HostError } from '../../../src/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'certroll-write-batch-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A key file's content, generated here (no private key is committed). */
const key = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
/** The key's base64 body: what must travel on stdin and never in the script. */
const keyBody = key.split('\n')[1]!;

describe('writeFilesAtomic', () => {
  it('writes every file byte for byte with its mode in one round trip; the contents only on stdin', async () => {
    const r = new LocalRemote();
    const binary = Buffer.from([0, 1, 2, 10, 13, 255, 39, 34, 92, 36, 10]);
    const big = Buffer.alloc(200_000, 'x');
    writeFileSync(join(dir, 'cert.pem'), 'old');
    await writeFilesAtomic(r, [
      { path: join(dir, 'key.pem'), data: key },
      { path: join(dir, 'cert.pem'), data: 'new cert\n', mode: 0o640 },
      { path: join(dir, "we'ird $(name).bin"), data: binary, mode: 0o600 },
      { path: join(dir, 'big'), data: big },
      { path: join(dir, 'empty'), data: '' },
    ]);
    expect(r.counters.roundTrips).toBe(1);
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe(key);
    expect(statSync(join(dir, 'key.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'cert.pem'), 'utf8')).toBe('new cert\n');
    expect(statSync(join(dir, 'cert.pem')).mode & 0o777).toBe(0o640);
    expect(readFileSync(join(dir, "we'ird $(name).bin")).equals(binary)).toBe(true);
    expect(readFileSync(join(dir, 'big')).equals(big)).toBe(true);
    expect(statSync(join(dir, 'big')).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(dir, 'empty')).length).toBe(0);
    expect(readdirSync(dir).filter((f) => f.includes('certroll-tmp'))).toEqual([]);
    expect(r.log[0]!.script).not.toContain(keyBody);
    expect(r.log[0]!.stdin).toContain(keyBody);
  });

  it('a sha256 that differs from the expected one renames nothing and leaves no temporary file', async () => {
    const r = new LocalRemote('h1');
    writeFileSync(join(dir, 'a'), 'old a');
    writeFileSync(join(dir, 'b'), 'old b');
    const err = await writeFilesAtomic(r, [
      { path: join(dir, 'a'), data: 'new a' },
      { path: join(dir, 'b'), data: 'new b', sha256: sha256('something else') },
    ]).catch((e) => e);
    expect(err).toBeInstanceOf(HostError);
    expect(err.kind).toBe('transfer');
    expect(err.shortMessage).toContain(`${join(dir, 'b')} written does not have the expected sha256 ${sha256('something else').slice(0, 16)}`);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('old a');
    expect(readFileSync(join(dir, 'b'), 'utf8')).toBe('old b');
    expect(readdirSync(dir).sort()).toEqual(['a', 'b']);
  });

  it('a file that cannot be written (missing directory) fails with the host error output and renames nothing', async () => {
    const r = new LocalRemote('h1');
    const err = await writeFilesAtomic(r, [
      { path: join(dir, 'a'), data: 'new a' },
      { path: join(dir, 'missing', 'b'), data: 'new b' },
    ]).catch((e) => e);
    expect(err).toBeInstanceOf(HostError);
    expect(err.shortMessage).toMatch(/writing .* failed/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('the script refuses an existing temporary name (exclusive create) and leaves the file there alone', async () => {
    const r = new LocalRemote();
    const fixed = (p: string) => `${p}.certroll-tmp-fixed`;
    writeFileSync(fixed(join(dir, 'a')), 'someone else');
    const { script, stdin } = writeBatchScript([{ path: join(dir, 'a'), data: 'new' }], fixed);
    const res = await r.sh(script, { stdin, allowFailure: true });
    expect(res.exitCode).not.toBe(0);
    expect(readdirSync(dir)).toEqual(['a.certroll-tmp-fixed']);
  });
});
