// Command-line values: numbers finite and in range, one value per single-value flag, no blank --limit, a writable -o.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NUMBER_FLAGS, checkFlags, checkOutputFile, parseNumberFlag, requirePlaybook } from '../../../src/cli/flags.js';
import { UsageError } from '../../../src/errors.js';

const err = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('command-line values', () => {
  it('numeric flags: plain decimal numbers within their documented range', () => {
    expect(parseNumberFlag('pause', '0')).toBe(0);
    expect(parseNumberFlag('pause', '2.5')).toBe(2.5);
    expect(parseNumberFlag('pause', ' 3600 ')).toBe(3600);
    expect(parseNumberFlag('forks', 20)).toBe(20);
    expect(parseNumberFlag('renew-within-days', '1e2')).toBe(100);
    for (const bad of ['NaN', '-1', '1e309', 'abc', '', '0x10', 'Infinity', '3601', '1,5', '+', '.'])
      expect(err(() => parseNumberFlag('pause', bad))).toBe(`--pause: expected a number 0-3600 (seconds), got ${JSON.stringify(bad)}`);
    for (const bad of ['0', '1.5', '1001']) expect(err(() => parseNumberFlag('forks', bad))).toMatch(/^--forks: expected an integer 1-1000 \(hosts\)/);
    expect(Object.keys(NUMBER_FLAGS).sort()).toEqual(['forks', 'keep', 'pause', 'reconnect-timeout', 'renew-within-days', 'warn-days']);
  });

  it('checkFlags converts numbers in place (both spellings) and refuses repeats, blanks and valueless flags', () => {
    const argv: Record<string, unknown> = { 'renew-within-days': '30', renewWithinDays: '30', forks: 20 };
    checkFlags(argv, { parsed: { defaulted: { forks: true } } });
    expect(argv).toEqual({ 'renew-within-days': 30, renewWithinDays: 30, forks: 20 });
    expect(err(() => checkFlags({ pause: ['1', '2'] }))).toBe('--pause given 2 times ("1", "2"): give it once');
    expect(err(() => checkFlags({ inventory: ['a', 'b'] }))).toMatch(/^--inventory given 2 times/);
    expect(err(() => checkFlags({ limit: '  ' }))).toMatch(/^--limit: empty/);
    expect(err(() => checkFlags({ inventory: '' }))).toMatch(/^--inventory: empty/);
    expect(err(() => checkFlags({ forks: 20 }, { parsed: { defaulted: {} } }))).toBe('--forks: expected an integer 1-1000 (hosts), got nothing');
  });

  it('missing PLAYBOOK is named', () => {
    expect(err(() => requirePlaybook('plan', undefined))).toBe('missing PLAYBOOK: certroll plan -i INVENTORY PLAYBOOK');
    expect(err(() => requirePlaybook('run', ' ', ' (or --resume RUN_ID)'))).toBe('missing PLAYBOOK: certroll run -i INVENTORY PLAYBOOK (or --resume RUN_ID)');
    expect(requirePlaybook('plan', 'p.yaml')).toBe('p.yaml');
  });

  it('check -o FILE: the directory exists and takes a new file; FILE is a regular file if it exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'certroll-flags-'));
    writeFileSync(join(dir, 'f'), 'x');
    expect(() => checkOutputFile(join(dir, 'out.prom'))).not.toThrow();
    expect(() => checkOutputFile(join(dir, 'f'))).not.toThrow();
    expect(() => checkOutputFile(undefined)).not.toThrow();
    expect(err(() => checkOutputFile(join(dir, 'nope', 'x')))).toMatch(/the directory .*nope does not exist \(ENOENT\)/);
    expect(err(() => checkOutputFile(join(dir, 'f', 'x')))).toMatch(/is not a directory/);
    expect(err(() => checkOutputFile(dir))).toMatch(/exists and is not a regular file/);
    expect(err(() => checkOutputFile('/proc/x.prom'))).toMatch(/cannot create a file in \/proc/);
    expect(err(() => checkOutputFile(''))).toBe('--output: empty; name the file to write');
  });
});
