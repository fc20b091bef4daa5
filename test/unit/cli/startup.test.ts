// The start-up of the built (bundled) CLI: --help on every command, --version and yargs' messages in another language
// still right after bundling (scripts/bundle.mjs), and what `--help`, `runs` and input refused at validation load: never
// ssh2, node-forge or listr2; the executable npm installs (dist/cli/certroll.cjs) runs from V8's code cache on this Node,
// and prints the same with the cache missing, made from other source or rejected; string-width's edits keep every width
// (docs/performance.md, "Start-up"). Times are printed by bench/startup, never asserted here.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import yargs from 'yargs';
import { heads } from '../../../src/cli/commands/heads.js';
import { skipHelpCache } from '../../../src/cli/main.js';

const CLI = resolve('dist/cli/bin.js');
const dir = mkdtempSync(join(tmpdir(), 'certroll-startup-'));
const env = { ...process.env, NO_COLOR: '1', CERTROLL_HOME: join(dir, 'home'), LANG: 'C', LC_ALL: 'C' };
const cli = (args: string[], opts: { cwd?: string; env?: Record<string, string>; record?: string } = {}) =>
  spawnSync(process.execPath, [...(opts.record ? ['--import', resolve('bench/startup/record-modules.mjs')] : []), CLI, ...args], {
    encoding: 'utf8',
    cwd: opts.cwd,
    env: { ...env, ...opts.env, ...(opts.record ? { CERTROLL_RECORD_MODULES: opts.record } : {}) },
    timeout: 20_000,
  });

describe('the bundled CLI', () => {
  it('--help lists every command and the exit codes; every command has its own --help (exit 0)', () => {
    const top = cli(['--help']);
    expect(top.status).toBe(0);
    for (const name of Object.keys(heads)) expect(top.stdout).toMatch(new RegExp(`certroll ${name}\\b`));
    expect(top.stdout).toMatch(/Exit codes:\n {2}0 {4}success/);
    for (const name of Object.keys(heads)) {
      const r = cli([name, '--help']);
      expect(r.status, `${name} --help: ${r.stderr}`).toBe(0);
      expect(r.stdout.startsWith(`certroll ${heads[name as keyof typeof heads].command.split(' ')[0]}`)).toBe(true);
    }
  }, 60_000);

  it("--version is certroll's from any directory; yargs' messages follow the locale (its locale files are found)", () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(cli(['--version'], { cwd: dir }).stdout.trim()).toBe(version);
    const de = cli(['bogus'], { env: { LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8' } });
    expect(de.status).toBe(3);
    expect(de.stderr).toMatch(/Unbekanntes Argument: bogus/);
    expect(cli(['bogus']).stderr).toMatch(/Unknown argument: bogus/);
  });

  it('--help, runs and input refused at validation load neither ssh2, node-forge nor listr2', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'hosts: [\n');
    const cases: Array<[string[], number]> = [
      [['--help'], 0],
      [['runs'], 0],
      [['plan', '-i', bad, 'playbooks/tos-etcd-renew.yaml'], 3],
      [['run', '--yes', '-i', bad, 'playbooks/tos-etcd-renew.yaml'], 3],
      [['check', '-i', bad], 3],
      [['plan', '-i', 'inventories/lab.yaml', 'playbooks/tos-etcd-renew.yaml', '--forks', '0'], 3],
    ];
    for (const [args, code] of cases) {
      const record = join(dir, `modules-${args[0]}.txt`);
      rmSync(record, { force: true });
      const r = cli(args, { record });
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      const loaded = readFileSync(record, 'utf8');
      expect(loaded, args.join(' ')).toMatch(/dist\/cli\/bin\.js/); // the recorder saw the CLI
      expect(loaded, args.join(' ')).not.toMatch(/node_modules\/(ssh2|node-forge|listr2)\//);
    }
  }, 60_000);

  it("turns off yargs' help rendering on every command run (the hook exists in the installed yargs)", () => {
    expect(skipHelpCache(yargs([]))).toBe(true);
  });
});

const BIN = resolve('dist/cli/certroll.cjs');
const PROBE = resolve('test/support/code-cache-probe.cjs');

/** One run of an executable (default: the package's bin) with the code-cache probe: its output, exit code, and how each script was compiled. */
function probed(args: string[], opts: { bin?: string; node?: string[] } = {}) {
  const record = join(dir, `probe-${Math.random().toString(36).slice(2)}.jsonl`);
  const r = spawnSync(process.execPath, [...(opts.node ?? []), '--require', PROBE, opts.bin ?? BIN, ...args], {
    encoding: 'utf8',
    env: { ...env, CERTROLL_CODE_CACHE_PROBE: record },
    timeout: 20_000,
  });
  const lines = existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { file?: string; cache?: string; extensions?: string; before?: string }) : [];
  const scripts = lines.filter((l) => l.file !== undefined) as Array<{ file: string; cache: string }>;
  return { out: `${r.stdout}\n--- stderr\n${r.stderr}\n--- exit ${r.status}`, scripts, exit: lines.find((l) => l.extensions !== undefined) };
}

describe('the executable npm installs (package.json bin) and its code cache', () => {
  const bad = join(dir, 'bad-inventory.yaml');
  writeFileSync(bad, 'hosts: [\n');
  const cases = [['--help'], ['runs'], ['bogus'], ['plan', '-i', bad, 'playbooks/tos-etcd-renew.yaml']];

  it('is dist/cli/certroll.cjs, and prints exactly what `node dist/cli/bin.js` prints', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin).toEqual({ certroll: 'dist/cli/certroll.cjs' });
    expect(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    for (const args of [...cases, ['--version'], ['completion']]) {
      const viaBin = cli(args);
      expect(probed(args).out, args.join(' ')).toBe(`${viaBin.stdout}\n--- stderr\n${viaBin.stderr}\n--- exit ${viaBin.status}`);
    }
  }, 60_000);

  it('runs the bundle and every chunk --help, runs and a refused plan load from a code cache V8 accepts on this Node', () => {
    for (const args of cases) {
      const { scripts } = probed(args);
      expect(scripts.map((s) => s.file), args.join(' ')).toContain('dist/cli/bundle.cjs');
      for (const s of scripts) expect(s, args.join(' ')).toEqual({ file: s.file, cache: 'accepted' });
    }
    const runs = probed(['runs']);
    expect(runs.scripts.length).toBeGreaterThan(1); // runs' chunks go through the cache too
    // Only certroll's own files: Node's loader is left as it is (require.extensions has no .cjs of ours, for listr2's).
    expect(runs.exit?.extensions).toBe(runs.exit?.before);
  }, 60_000);

  it('compiles instead, with the same output and exit code, when the cache is missing, made from other source, or rejected by V8', () => {
    const expected = cases.map((args) => probed(args).out);
    // A copy of dist/cli whose caches are changed (the build's own stay as they are).
    const copy = join(dir, 'copy');
    const caches = () => [join(copy, 'cli', 'bundle.cjs.v8cache'), ...readdirSync(join(copy, 'cli', 'chunks')).filter((f) => f.endsWith('.v8cache')).map((f) => join(copy, 'cli', 'chunks', f))];
    const fresh = () => {
      rmSync(copy, { recursive: true, force: true });
      cpSync('dist/cli', join(copy, 'cli'), { recursive: true });
      return caches();
    };
    const check = (what: string, cache: string, node: string[] = []) => {
      cases.forEach((args, i) => {
        const r = probed(args, { bin: join(copy, 'cli', 'certroll.cjs'), node });
        expect(r.out, `${what}: ${args.join(' ')}`).toBe(expected[i]);
        expect(r.scripts.length, `${what}: ${args.join(' ')}`).toBeGreaterThan(0);
        for (const s of r.scripts) expect(s.cache, `${what}: ${args.join(' ')}: ${s.file}`).toBe(cache);
      });
    };
    for (const f of fresh()) rmSync(f);
    check('no .v8cache', 'none');
    // Made from other source: the key (the SHA-1 of the source it was made from, its first 20 bytes) differs.
    for (const f of fresh()) {
      const b = readFileSync(f);
      b[0]! ^= 0xff;
      writeFileSync(f, b);
    }
    check('another source', 'none');
    // Made by another V8: the version hash in V8's header (after the key: magic number, then version hash) differs.
    for (const f of fresh()) {
      const b = readFileSync(f);
      b[20 + 4]! ^= 0xff;
      writeFileSync(f, b);
    }
    check('another V8 version', 'rejected');
    // V8 flags that change the code (a heap limit in NODE_OPTIONS is enough).
    fresh();
    check('other V8 flags', 'rejected', ['--max-old-space-size=100']);
  }, 120_000);
});

describe("the bundle's edits to string-width (scripts/bundle-plugins.mjs)", () => {
  it('measure every kind of text as the packages themselves do: ASCII, CJK, emoji sequences, combining marks, ANSI', async () => {
    const { rolldown } = (await import('rolldown')) as unknown as { rolldown: (o: object) => Promise<{ write: (o: object) => Promise<unknown> }> };
    const plugins = (await import(pathToFileURL(resolve('scripts/bundle-plugins.mjs')).href)) as Record<string, object>;
    const out = join(dir, 'string-width');
    const versions = { v8: 'node_modules/string-width/index.js', v7: 'node_modules/cliui/node_modules/string-width/index.js' };
    const build = await rolldown({ input: versions, platform: 'node', plugins: [plugins.stringWidthAscii, plugins.lazyUnicodeTables], logLevel: 'silent' });
    await build.write({ dir: out, format: 'esm', entryFileNames: '[name].mjs' });
    const texts = ['', 'certroll --help', 'plain ASCII with (punctuation) & digits 0123', 'naïve café', '日本語のテキスト', '한국어', '👍', '👨‍👩‍👧‍👦 family', '🇩🇪 flag', '1️⃣ keycap', '❤ vs ❤️', 'e\u0301 combining', '\u001b[31mred\u001b[39m text', 'ｶﾞ halfwidth', 'tab\there', '\u200bzero width', '…—–', 'Ελληνικά', 'עברית'];
    for (const [v, file] of Object.entries(versions)) {
      type Width = (s: string, o?: { ambiguousIsNarrow?: boolean }) => number;
      const edited = ((await import(pathToFileURL(join(out, `${v}.mjs`)).href)) as { default: Width }).default;
      const original = ((await import(pathToFileURL(resolve(file)).href)) as { default: Width }).default;
      for (const t of texts) {
        expect(edited(t), `${v}: ${JSON.stringify(t)}`).toBe(original(t));
        expect(edited(t, { ambiguousIsNarrow: false }), `${v} (ambiguous wide): ${JSON.stringify(t)}`).toBe(original(t, { ambiguousIsNarrow: false }));
      }
    }
  }, 60_000);
});
