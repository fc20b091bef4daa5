// Several scripts in one exec (src/ssh/sections.ts), with the real shell: each part's output and exit code come back
// apart, a failing part does not stop the next, only the part that asks reads stdin, and file content cannot fake a marker.
import { describe, expect, it } from 'vitest';
import { LocalRemote } from '../../support/local-remote.js';
import { parseSections, runSections, sectionsScript } from '../../../src/ssh/sections.js';

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
