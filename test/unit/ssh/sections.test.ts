// Several scripts in one exec (src/ssh/sections.ts), with the real shell: each part's output and exit code come back
// apart, a failing part does not stop the next, only the part that asks reads stdin, and file content cannot fake a marker.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalRemote } from '../../support/local-remote.js';
import { concurrently, MAX_CONCURRENT, parseSections, runSections, sectionsScript } from '../../../src/ssh/sections.js';

describe('runSections', () => {
  it('returns every part\'s stdout and exit code in one round trip; stdin goes to the part that reads it', async () => {
    const r = new LocalRemote();
    const res = await runSections(r, [
      { name: 'a', script: 'echo one; echo two' },
      { name: 'fails', script: 'echo partial; exit 3' },
      { name: 'stdin', script: 'cat', stdin: true },
      { name: 'nostdin', script: 'cat; echo end' },
      { name: 'empty', script: 'true' },
      { name: 'no-newline', script: "printf 'x'" },
    ], { stdin: 'fed\n' });
    expect(r.counters.roundTrips).toBe(1);
    expect(Object.fromEntries(res.sections)).toEqual({
      a: { stdout: 'one\ntwo\n', exitCode: 0 },
      fails: { stdout: 'partial\n', exitCode: 3 },
      stdin: { stdout: 'fed\n', exitCode: 0 },
      nostdin: { stdout: 'end\n', exitCode: 0 },
      empty: { stdout: '', exitCode: 0 },
      'no-newline': { stdout: 'x', exitCode: 0 },
    });
    expect(res.exitCode).toBe(0);
  });

  it('a line that looks like a marker without the run\'s random tag stays part of the output', () => {
    const { script, marker } = sectionsScript([{ name: 'a', script: 'true' }], 'abc');
    expect(marker).toBe('@@certroll-abc');
    expect(script).toContain('@@certroll-abc a');
    const out = parseSections('x\n@@certroll-other a 0\ny\n@@certroll-abc a 0\n', marker);
    expect(out.get('a')).toEqual({ stdout: 'x\n@@certroll-other a 0\ny', exitCode: 0 });
  });

  it('refuses a bad or repeated name and two parts reading stdin', () => {
    expect(() => sectionsScript([{ name: 'a b', script: 'true' }])).toThrow(/bad or repeated/);
    expect(() => sectionsScript([{ name: 'a', script: 'true' }, { name: 'a', script: 'true' }])).toThrow(/bad or repeated/);
    expect(() => sectionsScript([{ name: 'a', script: 'cat', stdin: true }, { name: 'b', script: 'cat', stdin: true }])).toThrow(/only one part/);
  });

  it('a script cut off (the shell killed) leaves the later parts out', async () => {
    const r = new LocalRemote();
    const res = await runSections(r, [{ name: 'a', script: 'echo a' }, { name: 'b', script: 'kill -9 $$' }, { name: 'c', script: 'echo c' }]);
    expect(res.sections.get('a')?.stdout).toBe('a\n');
    expect(res.sections.has('c')).toBe(false);
  });
});

describe('concurrent parts (one exec, no file written)', () => {
  // Part `waits` sees part `makes`'s file only if both run at the same time: run one after the other, `waits` would give
  // up first (it comes first) and print `alone`. No wall time is measured.
  const waitFor = (f: string) => `i=0; while [ ! -e '${f}' ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; [ -e '${f}' ] && echo together || echo alone`;

  it('runs the parts at the same time and returns each one\'s output and exit code, in order', async () => {
    const d = mkdtempSync(join(tmpdir(), 'certroll-sections-'));
    try {
      const r = new LocalRemote();
      const res = await runSections(r, [
        { name: 'waits', script: `${waitFor(`${d}/b`)}; exit 4` },
        { name: 'middle', script: `${waitFor(`${d}/c`)}` },
        { name: 'makes', script: `touch '${d}/b' '${d}/c'; printf 'no newline'` },
      ], { concurrent: true });
      expect(r.counters.roundTrips).toBe(1);
      expect(Object.fromEntries(res.sections)).toEqual({
        waits: { stdout: 'together\n', exitCode: 4 },
        middle: { stdout: 'together\n', exitCode: 0 },
        makes: { stdout: 'no newline', exitCode: 0 },
      });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('keeps outputs bigger than a pipe whole and in order, with more parts than run at once', async () => {
    const n = MAX_CONCURRENT + 3;
    const parts = Array.from({ length: n }, (_, i) => ({ name: `p${i}`, script: i % 4 === 0 ? `seq 1 ${20_000 + i}` : `echo part ${i}; echo err ${i} >&2; exit ${i % 3}` }));
    const res = await runSections(new LocalRemote(), parts, { concurrent: true });
    for (let i = 0; i < n; i++) {
      const want = i % 4 === 0 ? Array.from({ length: 20_000 + i }, (_, k) => `${k + 1}\n`).join('') : `part ${i}\n`;
      expect(res.sections.get(`p${i}`)).toEqual({ stdout: want, exitCode: i % 4 === 0 ? 0 : i % 3 });
    }
    expect(res.stderr.split('\n').filter(Boolean).sort()).toEqual(parts.flatMap((_, i) => (i % 4 === 0 ? [] : [`err ${i}`])).sort());
  });

  it('concurrently() prints each block\'s output in the order given; one block is just that block', async () => {
    const r = new LocalRemote();
    expect((await r.sh(concurrently(['sleep 0.2; echo a', 'echo b', 'sleep 0.1; echo c', 'echo d']))).stdout).toBe('a\nb\nc\nd\n');
    expect(concurrently(['echo x'])).toBe('echo x');
    expect((await r.sh(concurrently([]) || 'true')).stdout).toBe('');
  });

  it('an alongside part runs at the same time as the parts in sequence, which keep their order and stdin', async () => {
    const d = mkdtempSync(join(tmpdir(), 'certroll-sections-'));
    try {
      const res = await runSections(new LocalRemote(), [
        { name: 'first', script: `echo one > '${d}/order'` },
        { name: 'reads', script: `cat; cat '${d}/order'`, stdin: true },
        { name: 'waits', script: waitFor(`${d}/side`) },
        { name: 'side', script: `touch '${d}/side'; echo side`, alongside: true },
      ], { stdin: 'fed\n' });
      expect(Object.fromEntries(res.sections)).toEqual({
        first: { stdout: '', exitCode: 0 },
        reads: { stdout: 'fed\none\n', exitCode: 0 },
        waits: { stdout: 'together\n', exitCode: 0 },
        side: { stdout: 'side\n', exitCode: 0 },
      });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('refuses a concurrent part that reads stdin', () => {
    expect(() => sectionsScript([{ name: 'a', script: 'true' }, { name: 'b', script: 'cat', stdin: true, alongside: true }])).toThrow(/cannot read stdin/);
    expect(() => sectionsScript([{ name: 'a', script: 'cat', stdin: true }, { name: 'b', script: 'true' }], 'x', { concurrent: true })).toThrow(/cannot read stdin/);
  });
});
