// The start-up of the built (bundled) CLI: --help on every command, --version and yargs' messages in another language
// still right after bundling (scripts/bundle.mjs), and what `--help`, `runs` and input refused at validation load: never
// ssh2, node-forge or listr2 (docs/performance.md, "Start-up"). Times are printed by bench/startup, never asserted here.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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
