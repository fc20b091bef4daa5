// The lab's programs are real files a shell and Python can read: every asset under lab/assets/bin parses, and the lab installs
// each of them (and only them) with the hosts dir filled in.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assetsDir, PROGRAMS, programText } from '../../../lab/src/assets.js';

const binDir = join(assetsDir, 'bin');
const assets = readdirSync(binDir).sort();

/** The syntax check for a program, from its first line: sh -n, bash -n or python3 -m py_compile. */
function syntaxCheck(file: string): string[] {
  const shebang = readFileSync(file, 'utf8').split('\n')[0]!;
  if (shebang === '#!/bin/sh') return ['sh', '-n', file];
  if (shebang === '#!/bin/bash') return ['bash', '-n', file];
  if (shebang === '#!/usr/bin/python3') return ['/usr/bin/python3', '-m', 'py_compile', file];
  throw new Error(`${file}: unknown interpreter ${shebang}`);
}

describe('lab/assets/bin', () => {
  it('holds exactly the programs the lab installs', () => {
    expect([...new Set(PROGRAMS.map((p) => p.asset))].sort()).toEqual(assets);
    expect(assets.length).toBe(11);
  });

  it.each(assets)('%s parses (sh -n, bash -n or python3 -m py_compile)', (name) => {
    const out = mkdtempSync(join(tmpdir(), 'certroll-asset-'));
    try {
      const [cmd, ...args] = syntaxCheck(join(binDir, name));
      // py_compile writes its .pyc beside the source unless told otherwise: keep lab/assets clean.
      execFileSync(cmd!, args, { env: { ...process.env, PYTHONPYCACHEPREFIX: out }, stdio: 'pipe' });
      // The installed text (hosts dir filled in, with a space to test the quoting) parses as well.
      const installed = join(out, name);
      execFileSync('sh', ['-c', 'cat > "$1"', 'sh', installed], { input: programText(name, '/var/lib/certroll lab/hosts') });
      const [cmd2, ...args2] = syntaxCheck(installed);
      execFileSync(cmd2!, args2, { env: { ...process.env, PYTHONPYCACHEPREFIX: out }, stdio: 'pipe' });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('a syntax error is caught (the check can fail)', () => {
    const out = mkdtempSync(join(tmpdir(), 'certroll-asset-'));
    try {
      execFileSync('sh', ['-c', 'printf "#!/bin/sh\\nif then fi\\n" > "$1/bad.sh"; printf "#!/usr/bin/python3\\ndef (:\\n" > "$1/bad.py"', 'sh', out]);
      for (const f of ['bad.sh', 'bad.py']) {
        const [cmd, ...args] = syntaxCheck(join(out, f));
        expect(() => execFileSync(cmd!, args, { env: { ...process.env, PYTHONPYCACHEPREFIX: out }, stdio: 'pipe' })).toThrow();
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('fills in the hosts dir: quoted where the program needs a string, plain in comments, nothing left over', () => {
    const docker = programText('docker.py', '/x/hosts');
    expect(docker).toContain('HOSTS_DIR = "/x/hosts"');
    expect(docker).toContain('(found by hostname under /x/hosts)');
    for (const p of PROGRAMS) expect(programText(p.asset, '/x/hosts')).not.toContain('@HOSTS_DIR@');
  });
});
