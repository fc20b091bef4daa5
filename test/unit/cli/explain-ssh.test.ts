// `--explain-ssh HOST` on every command that takes -i: prints where each SSH setting came from and exits 0 without
// contacting any host (the inventory's hosts listen nowhere: a connection attempt would fail the command).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'certroll-explain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const inv = join(dir, 'inv.yaml');
writeFileSync(inv, ['ssh:', '  user: admin', '  port: 1', '  config: none', 'hosts:', '  m1: { address: 127.0.0.1 }', 'groups:', '  master: [m1]', '  etcd: [m1]', ''].join('\n'));
const cli = (args: string[]) => spawnSync(process.execPath, ['dist/cli/bin.js', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 20_000 });

describe('--explain-ssh on every command that takes -i', () => {
  for (const cmd of [['check'], ['plan', 'playbooks/tos-etcd-renew.yaml'], ['run', 'playbooks/tos-etcd-renew.yaml'], ['status'], ['backups'], ['inventory', 'show']]) {
    it(`${cmd[0]}: the settings with their origin, exit 0, no host contacted`, () => {
      const r = cli([...cmd, '-i', inv, '--explain-ssh', 'm1']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('m1: connect to 127.0.0.1');
      expect(r.stdout).toMatch(/user\s+admin\s+ssh\.user \(.*inv\.yaml:2\)/);
      expect(r.stdout).toMatch(/port\s+1\s+ssh\.port/);
    });
  }
  it('an unknown host is a usage error (exit 3) naming the inventory\'s hosts', () => {
    const r = cli(['check', '-i', inv, '--explain-ssh', 'nosuch']);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('no host "nosuch"');
  });
});
