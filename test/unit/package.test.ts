// What npm publishes: the compiled CLI under dist/ (with package.json and the README), never the lab, the tests or the sources.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('the published package (npm pack --dry-run --json)', () => {
  it('holds dist/ without the lab or tests, and the certroll binary', () => {
    // npm pack runs the prepare script (a clean tsc build of dist/) first, as a real publish does.
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--silent'], { cwd: new URL('../..', import.meta.url), encoding: 'utf8', maxBuffer: 1 << 26 });
    const files = (JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/cli/bin.js');
    expect(files).toContain('package.json');
    const outside = files.filter((f) => !f.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(f));
    expect(outside).toEqual([]);
    expect(files.filter((f) => /(^|\/)(lab|test|e2e)(\/|$)|\.test\.|^src\//.test(f))).toEqual([]);
  }, 60_000);
});
