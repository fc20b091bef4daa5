// A half-written backup of the run itself is redone on resume; a backup certroll did not write, or one of another run,
// is never touched — not even when it sits where this run's partial backup would go (issue 17 §1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAB_INVENTORY, certroll as cli, freshLab, inHost as inHostOf, lab, type LabHostInfo } from '../support/cli.js';

const PB = 'playbooks/tos-etcd-renew.yaml';
const root = mkdtempSync(join(tmpdir(), 'certroll-e2e-foreign-'));
const home = join(root, 'home');
let hosts: LabHostInfo[];
const inHost = (h: string, s: string) => inHostOf(hosts, h, s);
const OTHER = '20200101T000000Z-0a0b0c';

beforeAll(async () => {
  hosts = await freshLab();
}, 600_000);
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  await lab('reset');
}, 600_000);

describe('backups certroll did not write for this run', { timeout: 300_000 }, () => {
  it('are never touched; this run\'s own half-written backup is redone', async () => {
    const crash = await cli(['run', '-i', LAB_INVENTORY, PB, '--yes', '--pause', '0'], { CERTROLL_HOME: home, CERTROLL_FAILPOINT: 'backup.before' });
    expect(crash.stderr).toContain('failpoint backup.before');
    const runId = readdirSync(join(home, 'runs')).sort().at(-1)!;
    const [a, b, c] = hosts.map((h) => h.name);
    // a: where this run's partial would go, a directory whose metadata names another run (not ours to remove).
    await inHost(a!, `mkdir -p /srv/kubernetes-bak-${runId}.partial && echo '{"runId":"${OTHER}"}' > /srv/kubernetes-bak-${runId}.partial/.certroll-backup.json && echo keep > /srv/kubernetes-bak-${runId}.partial/notes`);
    // b: this run's own half-written backup (metadata written first, files cut short).
    await inHost(b!, `mkdir -p /srv/kubernetes-bak-${runId}.partial && echo '{"runId":"${runId}"}' > /srv/kubernetes-bak-${runId}.partial/.certroll-backup.json && head -c 10 /srv/kubernetes/etcd.pem > /srv/kubernetes-bak-${runId}.partial/etcd.pem`);
    // c: a backup someone made by hand, no certroll metadata at all.
    await inHost(c!, `mkdir -p /srv/kubernetes-bak-${OTHER} && cp -a /srv/kubernetes/. /srv/kubernetes-bak-${OTHER}/`);
    const handMade = () => inHost(c!, `cd /srv/kubernetes-bak-${OTHER} && find . -type f -exec sha256sum {} + | sort`);
    const foreign = async () => [await inHost(a!, `cd /srv/kubernetes-bak-${runId}.partial && sha256sum * .certroll-backup.json`), await handMade()];
    const live = async () => Promise.all(hosts.map((h) => inHost(h.name, 'cd /srv/kubernetes && sha256sum etcd-ca.pem etcd.pem etcd-key.pem')));
    const foreignBefore = await foreign();
    const liveBefore = await live();

    // The resume refuses to touch a's directory, stops before any certificate changes, and says which directory.
    const refused = await cli(['run', '--resume', runId, '--yes', '--pause', '0'], { CERTROLL_HOME: home });
    expect(refused.code, refused.stdout + refused.stderr).not.toBe(0);
    expect(refused.stdout + refused.stderr).toContain(`/srv/kubernetes-bak-${runId}.partial belongs to another run`);
    expect(await foreign()).toEqual(foreignBefore);
    expect(await live()).toEqual(liveBefore);
    // b's partial was redone into a whole, verified backup.
    expect(await inHost(b!, `cd /srv/kubernetes-bak-${runId} && sha256sum --quiet --strict -c .certroll-backup.sha256 && echo whole`)).toContain('whole');

    // The operator moves a's directory away; the resume completes and c's hand-made backup is still byte for byte the same.
    await inHost(a!, `mv /srv/kubernetes-bak-${runId}.partial /root/moved-away`);
    const done = await cli(['run', '--resume', runId, '--yes', '--pause', '0'], { CERTROLL_HOME: home });
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(await handMade()).toEqual(foreignBefore[1]);
    expect(await inHost(a!, 'cat /root/moved-away/notes')).toBe('keep\n');
    expect(existsSync(join(home, 'runs', runId))).toBe(true);
  });
});
