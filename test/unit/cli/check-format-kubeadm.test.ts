// `check --format kubeadm` without a control-plane host to show is bad input: exit 3, one line naming the flag, no host contacted.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = (args: string[]) => spawnSync(process.execPath, ['dist/cli/bin.js', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 20_000 });

describe('check --format kubeadm', () => {
  const dir = mkdtempSync(join(tmpdir(), 'certroll-kbfmt-'));
  // TEST-NET addresses: a connection attempt would hang until the timeout, so a fast exit proves none was made.
  const inv = join(dir, 'inv.yaml');
  writeFileSync(inv, 'ssh: { config: none, connectTimeout: 30 }\nhosts:\n  cp-1: { address: 192.0.2.1 }\n  w-1: { address: 192.0.2.2 }\ngroups:\n  control-plane: [cp-1]\n  master: [cp-1]\n  workers: [w-1]\n');
  const tos = join(dir, 'tos.yaml');
  writeFileSync(tos, 'ssh: { config: none, connectTimeout: 30 }\nhosts:\n  tos-1: { address: 192.0.2.3 }\ngroups:\n  master: [tos-1]\n');

  it('refuses an inventory with no control-plane host, and a --limit that selects none, before contacting anything', () => {
    const started = Date.now();
    const a = cli(['check', '-i', tos, '--format', 'kubeadm']);
    expect(a.status).toBe(3);
    expect(a.stderr).toContain(`--format kubeadm: no host of group control-plane is selected in ${tos}`);
    expect(a.stdout).toBe('');
    const b = cli(['check', '-i', inv, '--format', 'kubeadm', '--limit', 'w-1']);
    expect(b.status).toBe(3);
    expect(b.stderr).toContain('--format kubeadm: no host of group control-plane is selected by --limit w-1');
    expect(b.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
