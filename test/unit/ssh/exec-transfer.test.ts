// Exec-based transfer scripts, run against the local sh: atomic write leaves no temp file on failure, stat output parses.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chownSpec, mkdirScript, parseStatOutput, renameScript, statScript, writeAtomicScript } from '../../../src/ssh/exec-transfer.js';

const dir = mkdtempSync(join(tmpdir(), 'certroll-xfer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const shRun = (script: string, input?: string) => spawnSync('sh', ['-c', script], { input });

describe('exec transfer scripts', () => {
  it('writes stdin atomically with the mode', () => {
    const path = join(dir, "a key's file");
    const r = shRun(writeAtomicScript(path, `${path}.certroll-tmp-1`, 0o600), 'secret\n');
    expect(r.status).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe('secret\n');
    expect(statSync(path).mode & 0o7777).toBe(0o600);
    expect(readdirSync(dir).filter((n) => n.includes('tmp'))).toEqual([]);
  });

  it('removes the temp file and fails when the rename cannot happen', () => {
    const target = join(dir, 'is-a-dir');
    execFileSync('mkdir', ['-p', join(target, 'sub')]);
    const r = shRun(writeAtomicScript(target, join(dir, 'x.certroll-tmp-2'), 0o644), 'data');
    expect(r.status).not.toBe(0);
    expect(readdirSync(dir).filter((n) => n.includes('certroll-tmp'))).toEqual([]);
  });

  it('parses stat output, and reports a missing path', () => {
    const path = join(dir, 'st');
    shRun(writeAtomicScript(path, `${path}.t`, 0o640), 'abc');
    const st = parseStatOutput(path, shRun(statScript(path)).stdout.toString());
    expect(st).toMatchObject({ path, size: 3, mode: 0o640, isFile: true, isDirectory: false, uid: process.getuid!() });
    expect(parseStatOutput(dir, shRun(statScript(dir)).stdout.toString())).toMatchObject({ isDirectory: true });
    expect(parseStatOutput('/nope', shRun(statScript('/nope/x')).stdout.toString())).toBeNull();
    expect(() => parseStatOutput('/x', 'junk')).toThrow(/unexpected stat output/);
  });

  it('builds mkdir, rename and chown arguments', () => {
    expect(mkdirScript('/a b', { recursive: true, mode: 0o700 })).toBe("mkdir -p -m 700 -- '/a b'");
    expect(renameScript('/a', '/b')).toBe('mv -f -T -- /a /b');
    expect(chownSpec(1, 2)).toBe('1:2');
    expect(chownSpec(1)).toBe('1');
    expect(chownSpec(undefined, 2)).toBe(':2');
    expect(chownSpec()).toBeUndefined();
  });
});
