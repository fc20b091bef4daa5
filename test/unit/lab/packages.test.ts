// The package list and its check: parsing dpkg-query, naming the missing packages with the command that installs them.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { PACKAGES, installedFromDpkgQuery, missingMessage, missingPackages } from '../../../lab/src/packages.js';

describe('the Debian package list', () => {
  it('is one list without duplicates, each with a reason', () => {
    const names = PACKAGES.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    for (const p of PACKAGES) expect(p.why.length).toBeGreaterThan(3);
  });

  it('is what .ci/run relies on: CI installs nothing itself', () => {
    const ci = readFileSync(new URL('../../../.ci/run', import.meta.url), 'utf8');
    expect(ci).not.toMatch(/apt-get|dpkg/);
    expect(ci.split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('set ') && !l.startsWith('cd '))).toEqual(['npm ci --no-audit --no-fund', 'npm test']);
  });
});

describe('installedFromDpkgQuery', () => {
  it('keeps only packages in state "ii", without the architecture', () => {
    const out = ['openssh-server ii ', 'sudo rc ', 'busybox un ', 'time:amd64 ii ', ''].join('\n');
    expect([...installedFromDpkgQuery(out)]).toEqual(['openssh-server', 'time']);
  });
});

describe('missingPackages (real dpkg-query)', () => {
  it('reports a package that does not exist as missing, and an installed one as present', async () => {
    const missing = await missingPackages([
      { name: 'certroll-no-such-package', why: 'test' },
      { name: 'dpkg', why: 'always installed on Debian' },
    ]);
    expect(missing.map((p) => p.name)).toEqual(['certroll-no-such-package']);
  });
});

describe('missingMessage', () => {
  it('names every missing package, why, and one apt-get command with services kept from starting', () => {
    const text = missingMessage([PACKAGES.find((p) => p.name === 'golang-cfssl')!, PACKAGES.find((p) => p.name === 'sudo')!]);
    expect(text).toContain('missing Debian packages (2):');
    expect(text).toMatch(/golang-cfssl +cfssl:/);
    expect(text).toContain('apt-get install -y --no-install-recommends golang-cfssl sudo');
    expect(text).toContain('/usr/sbin/policy-rc.d');
  });
});
