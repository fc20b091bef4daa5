// `certroll completion`: the bash script yargs generates is valid bash, and completing in a real bash (with the built
// CLI on PATH as `certroll`) offers the subcommands, check's options and --format's choices.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'certroll-completion-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// `certroll` on PATH, as after `npm install -g`: the script calls it by name.
writeFileSync(join(dir, 'certroll'), `#!/bin/sh\nexec node ${JSON.stringify(resolve('dist/cli/bin.js'))} "$@"\n`);
chmodSync(join(dir, 'certroll'), 0o755);
const env = { ...process.env, PATH: `${dir}:${process.env.PATH}`, SHELL: '/bin/bash', ZSH_NAME: '' };

const script = execFileSync('node', ['dist/cli/bin.js', 'completion'], { encoding: 'utf8', env });
writeFileSync(join(dir, 'certroll.bash'), script);

/** COMPREPLY for the words typed so far (the last one being completed), from the sourced script in bash. */
function complete(...words: string[]): string[] {
  const out = execFileSync(
    'bash',
    ['-c', `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _certroll_yargs_completions; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', join(dir, 'certroll.bash'), 'certroll', ...words],
    { encoding: 'utf8', env },
  );
  return out.split('\n').filter(Boolean);
}

describe('certroll completion', () => {
  it('prints a bash script that bash -n accepts and that registers the completion function', () => {
    expect(script).toContain('complete -o bashdefault -o default -F _certroll_yargs_completions certroll');
    execFileSync('bash', ['-n', join(dir, 'certroll.bash')]);
    // bash -n does reject a broken script, so the check above can fail.
    writeFileSync(join(dir, 'broken.bash'), script.replace('return 0\n}', 'return 0\n'));
    expect(() => execFileSync('bash', ['-n', join(dir, 'broken.bash')], { stdio: 'pipe' })).toThrow();
  });

  it('completes the subcommands', () => {
    expect(complete('')).toEqual(expect.arrayContaining(['check', 'plan', 'run', 'rollback', 'status', 'runs', 'backups', 'completion']));
    expect(complete('ch')).toEqual(['check']);
    expect(complete('ro')).toEqual(['rollback']);
  });

  it("completes check's options and the choices of --format", () => {
    expect(complete('check', '--wa')).toEqual(['--warn-days']);
    expect(complete('check', '--format', 'pro')).toEqual(['prometheus']);
  });
});
