// The OpenSSH config resolver against OpenSSH itself: every case of test/fixtures/corpus-sshconfig (real configs with `ssh -G`'s answers).
import { mkdtempSync, readdirSync, readFileSync, existsSync, rmSync, symlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveSshConfig, sshGView, comparedKeys } from '../../../src/inventory/openssh-config.js';

const corpus = join(__dirname, '../../fixtures/corpus-sshconfig');
const cases = readdirSync(corpus).filter((d) => /^\d\d-/.test(d));
const work = mkdtempSync(join(tmpdir(), 'certroll-sshcfg-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Cases OpenSSH answers but certroll refuses on purpose, with the reason (asserted below). */
const refusals: Record<string, RegExp> = {
  // CanonicalizeHostname + CanonicalDomains: OpenSSH's answer depends on live DNS lookups.
  '10-ratorx-match-host-canonicalize/zeus': /CanonicalizeHostname would look "zeus" up in DNS/,
  '11-baodrate-canonicalize-fallback-fatal/myserver': /CanonicalizeHostname would look "myserver" up in DNS/,
  // Match exec runs a local command: certroll never does that to read a config.
  '13-finkregh-match-exec-ip-literal/*': /Match exec is not supported by certroll/,
};

function envOf(dir: string): Record<string, string> {
  const env: Record<string, string> = { PATH: '/usr/bin:/bin', LANG: 'C' };
  const f = join(dir, 'env');
  if (existsSync(f))
    for (const l of readFileSync(f, 'utf8').split('\n')) {
      const m = /^([^#=][^=]*)=(.*)$/.exec(l);
      if (m) env[m[1]!] = m[2]!;
    }
  return env;
}

const tally = { agree: 0, refused: 0, disagree: [] as string[] };

describe('OpenSSH config corpus (ssh -G of OpenSSH 9.2)', () => {
  for (const c of cases) {
    const dir = join(corpus, c);
    const queries = readFileSync(join(dir, 'queries.txt'), 'utf8')
      .split('\n')
      .map((q) => q.replace(/#.*/, '').trim())
      .filter(Boolean);
    it(`${c}: ${queries.length} queries`, () => {
      const home = join(work, c);
      mkdirSync(home, { recursive: true });
      if (!existsSync(join(home, '.ssh'))) symlinkSync(dir, join(home, '.ssh'));
      for (const q of queries) {
        const f = q.replace(/%/g, '%25').replace(/\//g, '%2F');
        const key = `${c}/${q}`;
        const r = resolveSshConfig(join(home, '.ssh', 'config'), q, { home, localUser: '$LOCALUSER', env: { ...envOf(dir), HOME: home } });
        const errors = r.problems.filter((p) => p.level === 'error');
        const errFile = join(dir, 'expected', `${f}.error.txt`);
        const refusal = refusals[key] ?? refusals[`${c}/*`];
        if (refusal) {
          expect(errors.map((e) => e.kind), key).toContain('refused');
          expect(errors.map((e) => e.message).join('\n'), key).toMatch(refusal);
          tally.refused++;
          continue;
        }
        expect(errors.filter((e) => e.kind === 'refused'), key).toEqual([]);
        if (existsSync(errFile)) {
          // OpenSSH failed: so must we, with the same cause.
          const want = readFileSync(errFile, 'utf8');
          expect(errors.length, `${key}: OpenSSH failed with ${want}`).toBeGreaterThan(0);
          const first = errors[0]!.message;
          const cause = /Bad configuration option: (\S+)/.exec(want)?.[1] ?? /jumphost loop/.exec(want)?.[0] ?? /env var \$\{\w+\}/.exec(want)?.[0];
          expect(cause, key).toBeDefined();
          expect(first, key).toContain(cause!);
          tally.agree++;
          continue;
        }
        expect(errors, key).toEqual([]);
        const want = readFileSync(join(dir, 'expected', `${f}.txt`), 'utf8')
          .split('\n')
          .filter((l) => comparedKeys.includes(l.split(' ')[0]!));
        const got = sshGView(r, { home });
        const sortLines = (ls: string[]) => [...ls].sort((a, b) => (a.split(' ')[0]! < b.split(' ')[0]! ? -1 : a.split(' ')[0]! > b.split(' ')[0]! ? 1 : 0));
        const same = JSON.stringify(sortLines(got)) === JSON.stringify(sortLines(want));
        if (!same) tally.disagree.push(key);
        expect(sortLines(got), key).toEqual(sortLines(want));
        tally.agree++;
      }
    });
  }
  afterAll(() => {
    console.log(`ssh config corpus: ${cases.length} cases, ${tally.agree} queries agree with OpenSSH, ${tally.refused} refused on purpose, ${tally.disagree.length} disagree ${tally.disagree.join(' ')}`);
  });
});
