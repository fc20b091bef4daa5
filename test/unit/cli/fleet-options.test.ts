// The fleet options are declared once (withFleetOptions) and every command that contacts hosts has them, --limit included;
// plan and run refuse --limit (a renewal covers the whole cluster); status and rollback honour it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs, { type Argv, type CommandModule } from 'yargs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { allCommands } from '../../../src/cli/commands/index.js';

const commands = await allCommands();
import { statusHosts } from '../../../src/cli/commands/status.js';
import { withinLimit } from '../../../src/rollback/scope.js';
import { InputError } from '../../../src/errors.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import type { Playbook } from '../../../src/playbook/types.js';
import { planRollback } from '../../../src/rollback/plan.js';
import type { RollbackHostFacts } from '../../../src/rollback/types.js';

const FLEET = ['inventory', 'limit', 'forks', 'json', 'color', 'accept-new-host-keys', 'group-map', 'overlay'];
const HOST_COMMANDS = ['check', 'plan', 'run', 'status', 'backups', 'rollback'];

/** The options a command declares, with their aliases and descriptions (its builder run on a fresh yargs). */
function optionsOf(name: string) {
  const cmd = commands.find((c) => String((c as CommandModule).command).split(' ')[0] === name) as CommandModule;
  const y = yargs([]);
  (cmd.builder as (y: Argv) => Argv)(y);
  const o = (y as unknown as { getOptions(): unknown }).getOptions() as { key: Record<string, unknown>; alias: Record<string, string[]> };
  return { keys: Object.keys(o.key), alias: o.alias, describe: (k: string) => (y as unknown as { getInternalMethods(): { getUsageInstance(): { getDescriptions(): Record<string, string> } } }).getInternalMethods().getUsageInstance().getDescriptions()[k] };
}

describe('fleet options declared once', () => {
  for (const name of HOST_COMMANDS) {
    it(`${name}: -i, --limit/-l, --forks, --json, --color, --accept-new-host-keys, --group-map, --overlay`, () => {
      const o = optionsOf(name);
      for (const k of FLEET) expect(o.keys, `${name} --${k}`).toContain(k);
      expect(o.alias.limit).toEqual(['l']);
      expect(o.alias.inventory).toEqual(['i']);
      expect(o.describe('forks')).toBe('Hosts handled in parallel: an integer 1-1000 (hosts)');
      expect(o.describe('limit')).toMatch(/^Select hosts by name, group or glob/);
    });
  }
});

describe('--limit on the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'certroll-limit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const inv = join(dir, 'inv.yaml');
  // Port 1 on loopback: nothing listens, so a command that contacted a host would fail with exit 2, not 3.
  writeFileSync(inv, ['ssh:', '  port: 1', '  config: none', 'hosts:', '  m1: { address: 127.0.0.1 }', '  m2: { address: 127.0.0.2 }', 'groups:', '  master: [m1, m2]', '  etcd: [m1, m2]', '  flannel: [m1, m2]', '  manager: [m1]', ''].join('\n'));

  async function certroll(args: string[]): Promise<{ code: number; err: string }> {
    const { main } = await import('../../../src/cli/main.js');
    const { commandResult } = await import('../../../src/cli/common.js');
    commandResult.exitCode = 0;
    const err: string[] = [];
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    const o = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      return { code: await main(args), err: err.join('') };
    } finally {
      e.mockRestore();
      o.mockRestore();
    }
  }

  for (const cmd of ['plan', 'run']) {
    it(`${cmd} refuses it before any host is contacted (exit 3), saying why`, async () => {
      const r = await certroll([cmd, '-i', inv, 'playbooks/tos-etcd-renew.yaml', '--limit', 'm1', '--yes']);
      expect(r.code, r.err).toBe(3);
      expect(r.err).toContain(`--limit: ${cmd} always covers the whole inventory`);
    });
  }

  for (const cmd of ['status', 'rollback --from-backup /srv/kubernetes-bak-20261202T100000Z-abc123']) {
    it(`${cmd.split(' ')[0]}: a --limit that matches nothing is bad input (exit 3) naming the term, no host contacted`, async () => {
      const home = process.env.CERTROLL_HOME;
      process.env.CERTROLL_HOME = dir;
      try {
        const r = await certroll([...cmd.split(' '), '-i', inv, '--limit', 'nosuch']);
        expect(r.code, r.err).toBe(3);
        expect(r.err).toContain('"nosuch" matches no host or group');
      } finally {
        if (home === undefined) delete process.env.CERTROLL_HOME;
        else process.env.CERTROLL_HOME = home;
      }
    });
  }
});

describe('what --limit selects', () => {
  const inv = parseInventory(['hosts:', '  n1: { address: 10.0.0.1 }', '  n2: { address: 10.0.0.2 }', '  n3: { address: 10.0.0.3 }', 'groups:', '  master: [n1, n2, n3]', '  etcd: [n1, n2, n3]'].join('\n'), 'inv.yaml');

  it('status: every host without --limit; with it, the selected hosts and the first master (the reference)', () => {
    expect(statusHosts(inv, undefined).map((h) => h.name)).toEqual(['n1', 'n2', 'n3']);
    expect(statusHosts(inv, 'n3').map((h) => h.name)).toEqual(['n1', 'n3']);
    expect(statusHosts(inv, 'etcd:!n2').map((h) => h.name)).toEqual(['n1', 'n3']);
    expect(() => statusHosts(inv, 'n9')).toThrow(InputError);
  });

  let pb: Playbook;
  beforeAll(async () => {
    pb = await loadPlaybook('playbooks/tos-etcd-renew.yaml');
  });
  const RUN = '20261123T094300Z-a1b2c3';
  const file = (path: string, sha256: string) => ({ path, sha256, mode: 0o644, uid: 0, gid: 0, size: 1 });
  const host = (name: string): RollbackHostFacts => ({
    host: name,
    certDir: '/srv/kubernetes',
    backupDir: `/srv/kubernetes-bak-${RUN}`,
    backup: { exists: true, verified: true, metaRunId: RUN, createdAt: '2026-11-23T09:43:01Z', meta: { files: [file('etcd.pem', 'a'.repeat(64))], dir: { mode: 0o755, uid: 0, gid: 0 } }, files: [file('etcd.pem', 'a'.repeat(64))] },
    current: { exists: true, files: [file('etcd.pem', 'b'.repeat(64))], dir: { mode: 0o755, uid: 0, gid: 0 } },
    lock: null,
    manifests: { inPlace: ['tos-etcd.manifest', 'tos-apiserver.manifest'], parked: [] },
  });

  it('rollback: the Manager\'s part keeps only hosts --limit selects (a Manager host outside it is left alone)', () => {
    const scope = { templateHosts: ['n1', 'n3'], dbHost: 'n3', table: 't', passwordEnv: 'P', passwordSet: false };
    expect(withinLimit(scope, undefined)).toBe(scope);
    expect(withinLimit(scope, ['n2'])).toBeUndefined();
    expect(withinLimit(scope, ['n1', 'n2'])).toEqual({ templateHosts: ['n1'] });
    expect(withinLimit(scope, ['n3'])).toEqual({ templateHosts: ['n3'], dbHost: 'n3', table: 't', passwordEnv: 'P', passwordSet: false });
  });

  it('rollback: the hosts outside --limit are left alone (not read, not a block); only the selected ones are restored', () => {
    const plan = planRollback({
      inventory: inv,
      playbook: pb,
      rollbackId: 'rb1',
      rollbackOf: RUN,
      now: new Date('2026-11-24T00:00:00Z'),
      source: 'backup',
      facts: { n3: host('n3') },
      unreachable: [],
      etcd: null,
      limit: ['n3'],
    });
    expect(plan.hosts).toEqual(['n3']);
    expect(plan.skipped).toEqual([{ host: 'n1', why: 'not selected by --limit' }, { host: 'n2', why: 'not selected by --limit' }]);
    expect(plan.warnings.filter((w) => w.level === 'block' && w.code === 'unreachable')).toEqual([]);
    const restored = plan.steps.find((s) => s.type === 'restore')!;
    expect(restored.actions.map((a) => a.host)).toEqual(['n3']);
  });
});
