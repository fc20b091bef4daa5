// What npm publishes: the compiled CLI under dist/ (with package.json and the README) and the shipped playbooks (`status`
// without a playbook argument reads playbooks/tos-etcd-renew.yaml from the install), never the lab, the tests or the sources.
// The package is packed from a copy of the repository, so the check never touches this checkout's dist/ (which e2e tests use).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const copy = mkdtempSync(join(tmpdir(), 'certroll-pack-'));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

describe('the published package (npm pack --dry-run --json)', () => {
  it('holds dist/ and the playbooks without the lab or tests, and the certroll binary', () => {
    for (const p of ['package.json', 'README.md', 'tsconfig.json', 'scripts', 'src', 'playbooks', 'lab/src', 'lab/assets', 'lab/tsconfig.json', 'test/unit', 'test/e2e', 'test/support']) {
      cpSync(join(REPO, p), join(copy, p), { recursive: true });
    }
    symlinkSync(join(REPO, 'node_modules'), join(copy, 'node_modules'));
    // A dist/lab left by a build from before the lab moved out of src/: prepare must start from an empty dist/.
    mkdirSync(join(copy, 'dist', 'lab'), { recursive: true });
    writeFileSync(join(copy, 'dist', 'lab', 'cli.js'), '// stale\n');
    // npm pack runs the prepare script (a clean tsc build of dist/, then the bundle) first, as a real publish does.
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--silent'], { cwd: copy, encoding: 'utf8', maxBuffer: 1 << 26 });
    const files = (JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/cli/bin.js');
    // The bundled CLI (scripts/bundle.mjs): the executable (package.json bin), the CommonJS bundle with its V8 code cache,
    // its lazily loaded parts as chunks beside it, yargs' locale files.
    expect(files).toContain('dist/cli/certroll.cjs');
    expect(files).toContain('dist/cli/bundle.cjs');
    expect(files).toContain('dist/cli/bundle.cjs.v8cache');
    expect(files).toContain('dist/cli/locales/en.json');
    expect(files.some((f) => f.startsWith('dist/cli/chunks/'))).toBe(true);
    expect(files).toContain('package.json');
    // The playbook `status` falls back to, at the path it looks for (src/cli/commands/status.ts, relative to the bundle).
    expect(files).toEqual(expect.arrayContaining(['playbooks/tos-etcd-renew.yaml', 'playbooks/kubeadm-renew.yaml']));
    expect(files.filter((f) => !f.startsWith('dist/') && !f.startsWith('playbooks/') && !['package.json', 'README.md', 'LICENSE'].includes(f))).toEqual([]);
    expect(files.filter((f) => /(^|\/)(lab|test|e2e)(\/|$)|\.test\.|^src\//.test(f))).toEqual([]);
  }, 120_000);
});
