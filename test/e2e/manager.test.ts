// End to end on the lab's Manager host (real MariaDB, real template dir): run updates the rows, template CA and config.json,
// with a backup table; restore puts everything back; a wrong password or a stopped database stops the run before any change.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labSh, resetLab, type LabInfo } from './lab-helpers.js';
import { certroll } from '../support/cli.js';
import { loadInventory } from '../../src/inventory/load.js';
import { openFleet, type Fleet } from '../../src/ssh/fleet.js';
import { restoreManagerDb, restoreManagerTemplates, managerDbPassword, backupTableName } from '../../src/manager/index.js';

const home = mkdtempSync(join(tmpdir(), 'certroll-e2e-manager-'));
const GENCERTS = '/var/lib/transwarp-manager/master/content/meta/services/TOS/tos-2.1/templates/gencerts';
const KEYS = ['etcd-ca.pem', 'etcd.pem', 'etcd-key.pem'];

/**
 * The shipped playbook with the lab's flannel restart: `kubectl delete po … flannel` needs a cluster the lab does not have
 * (and kubectl may well be installed on the machine, so skipIfMissing does not skip it); the lab restarts its flanneld
 * stand-in with `lab-flannel-restart` on the flannel host.
 */
function labPlaybook(): string {
  const text = readFileSync('playbooks/tos-etcd-renew.yaml', 'utf8');
  const a = text.indexOf('  - type: restart-flannel');
  const b = text.indexOf('  - type: verify');
  const file = join(home, 'lab-etcd-renew.yaml');
  writeFileSync(file, text.slice(0, a) + '  - type: restart-flannel\n    on: flannel\n    command: [lab-flannel-restart]\n' + text.slice(b));
  return file;
}

let lab: LabInfo;
let playbook: string;
const env = () => ({ CERTROLL_HOME: home, CERTROLL_DB_PASSWORD: lab.db.password });

/** manager_info (or another table) as key → exact value, read as root inside the Manager host (not through certroll). */
async function rows(table = 'manager_info'): Promise<Record<string, string>> {
  const out = await labSh(lab.manager.name, `mysql -uroot --batch --skip-column-names -e "SELECT \\\`key\\\`, HEX(\\\`value\\\`) FROM manager.${table} ORDER BY 1"`);
  return Object.fromEntries(out.trim().split('\n').map((l) => l.split('\t')).map(([k, v]) => [k!, Buffer.from(v!, 'hex').toString('utf8')]));
}
async function tables(): Promise<string[]> {
  return (await labSh(lab.manager.name, 'mysql -uroot --batch --skip-column-names -e "SHOW TABLES FROM manager"')).trim().split('\n').filter(Boolean).sort();
}
const templateFiles = async () => ({
  ca: await labSh(lab.manager.name, `cat ${GENCERTS}/etcd-ca.pem`),
  config: await labSh(lab.manager.name, `cat ${GENCERTS}/config.json`),
  listing: await labSh(lab.manager.name, `ls -la --time-style=+ ${GENCERTS} | awk '{print $1, $3, $4, $NF}'`),
});
/** sha256 of every file under /srv on every host, and the manager's templates: "nothing changed" is this staying equal. */
async function fleetSnapshot(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const h of lab.hosts) out[h.name] = await labSh(h.name, `find /srv /var/lib/transwarp-manager -type f -exec sha256sum {} + | sort; ls -d /srv/*bak* 2>/dev/null || true`);
  return out;
}

beforeAll(async () => {
  lab = await resetLab();
  playbook = labPlaybook();
}, 600_000);
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('the Manager host on the lab', () => {
  it('a wrong database password stops the run before anything changes anywhere, saying what to fix', async () => {
    const before = { fleet: await fleetSnapshot(), rows: await rows(), tables: await tables() };
    const r = await certroll(['run', '-i', lab.inventory, playbook, '--yes', '--pause', '1'], { ...env(), CERTROLL_DB_PASSWORD: 'not-the-password' });
    expect(r.code).toBe(4); // safety stop: the plan is blocked
    const out = r.stdout + r.stderr;
    expect(out).toContain('Access denied');
    expect(out).toContain('CERTROLL_DB_PASSWORD');
    expect(out).not.toContain('not-the-password');
    expect(await fleetSnapshot()).toEqual(before.fleet);
    expect(await rows()).toEqual(before.rows);
    expect(await tables()).toEqual(before.tables);
  });

  it('a stopped database stops the run before anything changes, too', async () => {
    const before = await fleetSnapshot();
    await labSh(lab.manager.name, 'kill $(cat /run/mysqld/mysqld.pid); i=0; while [ -e /run/mysqld/mysqld.pid ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done');
    try {
      const r = await certroll(['run', '-i', lab.inventory, playbook, '--yes', '--pause', '1'], env());
      expect(r.code).toBe(4);
      expect(r.stdout + r.stderr).toMatch(/Can't connect|unreachable|manager-db-unreachable/);
      expect(await fleetSnapshot()).toEqual(before);
    } finally {
      lab = await resetLab(); // starts MariaDB again
    }
  });

  it('run updates the rows, the template CA and config.json after backing them up; restore puts all of it back', async () => {
    const old = { rows: await rows(), templates: await templateFiles() };
    expect(old.templates.config).toContain('"87600h"');

    const r = await certroll(['run', '-i', lab.inventory, playbook, '--yes', '--pause', '1', '--json'], env());
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const runId = (JSON.parse(r.stdout) as { runId: string }).runId;

    // The rows hold the masters' new files byte for byte (the files end with one newline, the rows without, as the Manager expects).
    const now = await rows();
    for (const m of lab.masters) {
      for (const k of KEYS) {
        const file = await labSh(m.name, `cat /srv/kubernetes/${k}`);
        expect(now[k], `${k} vs ${m.name}`).toBe(file.replace(/\n$/, ''));
        expect(file.endsWith('\n') && !file.endsWith('\n\n')).toBe(true);
      }
    }
    expect(now['etcd-ca.pem']).not.toBe(old.rows['etcd-ca.pem']);
    expect(now['cluster.name']).toBe(old.rows['cluster.name']);
    // The backup table holds the old rows, all of them.
    expect(await rows(backupTableName('manager_info', runId))).toEqual(old.rows);

    // The template CA is the new CA; config.json differs only in the expiry values.
    const t = await templateFiles();
    expect(t.ca).toBe(await labSh(lab.masters[0]!.name, 'cat /srv/kubernetes/etcd-ca.pem'));
    expect(t.config).toBe(old.templates.config.replaceAll('"87600h"', '"876000h"'));
    expect(t.config).toContain('"876000h"');
    JSON.parse(t.config);
    expect(t.listing).toBe(old.templates.listing);

    // The Manager host and the flannel-only host received the same three files as the masters (distribute step).
    const masterSums = await labSh(lab.masters[0]!.name, 'cd /srv/kubernetes && sha256sum etcd-ca.pem etcd.pem etcd-key.pem');
    for (const h of [lab.manager, ...lab.flannel]) expect(await labSh(h.name, 'cd /srv/kubernetes && sha256sum etcd-ca.pem etcd.pem etcd-key.pem')).toBe(masterSums);

    // Restore, as the rollback command does it, over certroll's own SSH layer.
    const inv = await loadInventory(lab.inventory);
    const mgr = inv.hosts.find((h) => h.name === lab.manager.name)!;
    const fleet: Fleet = await openFleet([mgr]);
    try {
      const remote = fleet.remotes.get(mgr.name)!;
      const tr = await restoreManagerTemplates(remote, { certDir: mgr.vars.certDir, runId });
      expect(tr).toMatchObject({ found: true, removed: [] });
      expect(tr.restored.sort()).toEqual([`${GENCERTS}/config.json`, `${GENCERTS}/etcd-ca.pem`]);
      const password = managerDbPassword(mgr.vars.managerDb!, { CERTROLL_DB_PASSWORD: lab.db.password })!;
      const dr = await restoreManagerDb(remote, { db: mgr.vars.managerDb!, password, runId });
      expect(dr.found).toBe(true);
      expect(dr.restored.sort()).toEqual([...KEYS].sort());
    } finally {
      await fleet.close();
    }
    expect(await rows()).toEqual(old.rows);
    expect(await templateFiles()).toEqual(old.templates);
  });

  it('rollback on a terminal asks for the database password the environment lacks, and restores the rows with it', async () => {
    lab = await resetLab();
    const old = await rows();
    const r = await certroll(['run', '-i', lab.inventory, playbook, '--yes', '--pause', '1', '--json'], env());
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const runId = (JSON.parse(r.stdout) as { runId: string }).runId;
    expect(await rows()).not.toEqual(old);

    // certroll under a pty (python's pty.fork), without CERTROLL_DB_PASSWORD: the parent answers the prompt with the
    // password it read on its own stdin (never in the child's environment or argv), then drains the terminal.
    const ptyParent = [
      'import json, os, pty, select, sys',
      'pw = sys.stdin.readline().rstrip("\\n").encode()',
      'pid, fd = pty.fork()',
      'if pid == 0:',
      '    os.execvp(sys.argv[1], sys.argv[1:])',
      'out = b""; sent = False',
      'while True:',
      '    r, _, _ = select.select([fd], [], [], 180)',
      '    if not r: break',
      '    try: d = os.read(fd, 65536)',
      '    except OSError: break',
      '    if not d: break',
      '    out += d',
      '    if not sent and b"Password of" in out:',
      '        os.write(fd, pw + b"\\n"); sent = True',
      '_, st = os.waitpid(pid, 0)',
      'sys.stdout.write(json.dumps({"code": os.waitstatus_to_exitcode(st), "sent": sent, "out": out.decode("utf8", "replace")}))',
    ].join('\n');
    const { CERTROLL_DB_PASSWORD: _, ...noPassword } = process.env;
    const child = spawnSync('python3', ['-c', ptyParent, 'node', 'dist/cli/bin.js', 'rollback', '-i', lab.inventory, '--run', runId, '--yes', '--pause', '1'], {
      input: `${lab.db.password}\n`,
      env: { ...noPassword, CERTROLL_HOME: home, NO_COLOR: '1' },
      encoding: 'utf8',
      maxBuffer: 1 << 26,
      timeout: 240_000,
    });
    const res = JSON.parse(child.stdout) as { code: number; sent: boolean; out: string };
    expect(res.sent, res.out).toBe(true);
    expect(res.out).toContain(`Password of ${lab.db.user}@${lab.db.host}:${lab.db.port}/${lab.db.database}: `);
    expect(res.out).not.toContain(lab.db.password);
    expect(res.code, res.out.slice(-3000)).toBe(0);
    expect(await rows()).toEqual(old);
  }, 300_000);
});
