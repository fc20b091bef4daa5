// Bastions for real: a network namespace holds a bastion sshd (reachable from here over a veth pair) and two target sshds
// on addresses that exist only inside it. A direct connection fails; through the bastion both targets connect over ONE
// shared bastion connection, `certroll check` and `plan` work, and a wrong bastion host key is reported as the bastion's.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostError } from '../../src/errors.js';
import { connect } from '../../src/ssh/connection.js';
import { openFleet } from '../../src/ssh/fleet.js';
import type { SshEvent } from '../../src/ssh/options.js';
import type { Host, JumpHost } from '../../src/inventory/types.js';
import { vethNamespace, type VethNamespace } from '../support/netns.js';
import { generateKey, startSshd, type TestSshd } from '../support/sshd.js';

const OUTSIDE = '10.213.7.1';
const BASTION = '10.213.7.2';
const TARGETS = ['10.213.8.2', '10.213.8.3'];
/** A second bastion, itself only reachable through the first (ProxyJump a,b). */
const INNER = '10.213.8.4';

describe('hosts behind a bastion (network namespace)', () => {
  let bastion: TestSshd;
  let inner: TestSshd;
  const targets: TestSshd[] = [];
  let dir: string;
  let knownHosts: string;
  let ns: VethNamespace | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certroll-bastion-'));
    ns = vethNamespace('bt', OUTSIDE, BASTION, [...TARGETS, INNER]);
    const NS = ns.name;
    bastion = await startSshd({ address: BASTION, port: 2222, netns: NS, sftp: false });
    for (const t of TARGETS) targets.push(await startSshd({ address: t, port: 2222, netns: NS }));
    // One client key for all three (the bastion and the targets authorise it).
    inner = await startSshd({ address: INNER, port: 2222, netns: NS, sftp: false });
    for (const t of [...targets, inner]) await t.authorize('root', bastion.clientKey.publicLine);
    knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, [bastion.knownHostsLine(), inner.knownHostsLine(), ...targets.map((t) => t.knownHostsLine())].join('\n') + '\n');
  }, 60_000);

  afterAll(async () => {
    for (const s of [bastion, inner, ...targets]) await s?.stop().catch(() => undefined);
    ns?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  const jump = (over: Partial<JumpHost> = {}): JumpHost => ({
    name: `root@${BASTION}:2222`,
    address: BASTION,
    port: 2222,
    user: 'root',
    identityFile: bastion.clientKey.privateKeyFile,
    knownHostsFile: knownHosts,
    connectTimeout: 5,
    identitiesOnly: true,
    from: 'test',
    ...over,
  });
  const target = (i: number, jumps?: JumpHost[]): Host =>
    targets[i]!.host(`tos-${i + 1}`, { identityFile: bastion.clientKey.privateKeyFile, knownHostsFile: knownHosts, connectTimeout: 2, ...(jumps ? { jumps } : {}) });

  it('a direct connection to a target fails: it is only reachable through the bastion', async () => {
    const err = await connect(target(0)).then(
      async (r) => {
        await r.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HostError);
    expect(['connect', 'timeout']).toContain((err as HostError).kind);
  });

  it('both targets connect through one shared bastion connection; commands run on them', async () => {
    const events: SshEvent[] = [];
    const fleet = await openFleet([target(0, [jump()]), target(1, [jump()])], { onEvent: (e) => events.push(e), env: {} });
    try {
      expect([...fleet.errors.values()].map((e) => e.message)).toEqual([]);
      const out = await fleet.run(async (r) => (await r.exec(['sh', '-c', 'ip -o -4 addr show dev lo'])).stdout);
      expect(out.map((o) => (o.ok ? TARGETS.filter((t) => o.value.includes(t)) : o.error.message))).toEqual([TARGETS, TARGETS]);
      expect(events.filter((e) => e.type === 'bastion-connected')).toHaveLength(1);
      expect(fleet.counters()).toEqual({ connections: 2, roundTrips: 2 });
    } finally {
      await fleet.close();
    }
  });

  it('a wrong bastion host key fails every host behind it, naming the bastion hop', async () => {
    const other = await generateKey(dir, 'other_host_key');
    const bad = join(dir, 'known_hosts_bad');
    writeFileSync(bad, `[${BASTION}]:2222 ${other.publicLine.split(' ').slice(0, 2).join(' ')}\n`);
    const fleet = await openFleet([target(0, [jump({ knownHostsFile: bad })]), target(1, [jump({ knownHostsFile: bad })])], { env: {} });
    try {
      expect(fleet.remotes.size).toBe(0);
      for (const name of ['tos-1', 'tos-2']) {
        const e = fleet.errors.get(name)!;
        expect(e.kind).toBe('host-key');
        expect(e.shortMessage).toMatch(new RegExp(`^${name}: via bastion root@${BASTION.replace(/\./g, '\\.')}:2222 \\(.*\\): HOST KEY CHANGED for \\[${BASTION.replace(/\./g, '\\.')}\\]:2222`));
      }
    } finally {
      await fleet.close();
    }
  });

  it('a chain of two bastions (ProxyJump a,b): the second is reached through the first', async () => {
    const hop2 = jump({ name: `root@${INNER}:2222`, address: INNER });
    const events: SshEvent[] = [];
    const r = await connect(target(0, [jump(), hop2]), { env: {}, onEvent: (e) => events.push(e) });
    try {
      expect((await r.exec(['echo', 'through two'])).stdout).toBe('through two\n');
      expect(events.filter((e) => e.type === 'bastion-connected').map((e) => (e as { bastion: string }).bastion)).toEqual([`root@${BASTION}:2222`, `root@${INNER}:2222`]);
    } finally {
      await r.close();
    }
  });

  it('auth refused by the bastion, and a bastion that does not answer, are the bastion\'s failures', async () => {
    const stranger = await generateKey(dir, 'stranger');
    const auth = (await connect(target(0, [jump({ identityFile: stranger.privateKeyFile, user: 'nobody' })]), { env: {} }).then(() => undefined, (e: unknown) => e)) as HostError;
    expect(auth.kind).toBe('auth');
    expect(auth.shortMessage).toMatch(new RegExp(`^tos-1: via bastion root@${BASTION.replace(/\./g, '\\.')}:2222 .*: authentication refused for nobody@${BASTION.replace(/\./g, '\\.')}:2222`));
    const down = (await connect(target(0, [jump({ port: 2299 })]), { env: {} }).then(() => undefined, (e: unknown) => e)) as HostError;
    expect(down.kind).toBe('connect');
    expect(down.shortMessage).toMatch(/^tos-1: via bastion .*: connection refused by 10\.213\.7\.2:2299/);
  });

  it('several identity files (IdentityFile lines of a config): the next is tried when the server refuses the first', async () => {
    const stranger = await generateKey(dir, 'stranger2');
    const h = { ...bastion.host('gw', { identityFile: stranger.privateKeyFile, identityFiles: [bastion.clientKey.privateKeyFile], knownHostsFile: knownHosts, identitiesOnly: true }) };
    const r = await connect(h, { env: {} });
    try {
      expect((await r.exec(['echo', 'second key'])).stdout).toBe('second key\n');
    } finally {
      await r.close();
    }
  });

  it('an unreachable target behind a reachable bastion names the bastion that cannot reach it', async () => {
    const h = { ...target(0, [jump()]), address: '10.213.8.99' };
    const err = (await connect(h, { env: {} }).then(() => undefined, (e: unknown) => e)) as HostError;
    expect(err).toBeInstanceOf(HostError);
    expect(err.shortMessage).toMatch(new RegExp(`^tos-1: bastion root@${BASTION.replace(/\./g, '\\.')}:2222 cannot reach 10\\.213\\.8\\.99:2222`));
  });

  it('certroll check and plan reach the targets through the bastion given by ProxyJump in an OpenSSH config, and check through an Ansible inventory', () => {
    const certDir = join(dir, 'certs');
    execFileSync('mkdir', ['-p', certDir]);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(certDir, 'k.key'), '-out', join(certDir, 'bastion-test.pem'), '-days', '400', '-subj', '/CN=bastion-test'], { stdio: 'ignore' });
    const cfg = join(dir, 'ssh_config');
    writeFileSync(cfg, [`Host gw`, `  HostName ${BASTION}`, `  Port 2222`, `  User root`, `Host 10.213.8.*`, `  ProxyJump gw`, `  Port 2222`, `  IdentityFile ${bastion.clientKey.privateKeyFile}`, `  UserKnownHostsFile ${knownHosts}`, ''].join('\n'));
    const inv = join(dir, 'inv.yaml');
    writeFileSync(inv, `ssh: { config: ${cfg}, connectTimeout: 5 }\nvars: { checkPaths: ["${certDir}/*.pem"] }\nhosts:\n  tos-1: { address: ${TARGETS[0]} }\n  tos-2: { address: ${TARGETS[1]} }\ngroups:\n  master: [tos-1, tos-2]\n  manager: [tos-2]\n`);
    const cli = (...args: string[]) => spawnSync('node', [join(__dirname, '../../dist/cli/bin.js'), ...args], { encoding: 'utf8', env: { ...process.env, SSH_AUTH_SOCK: '' } });
    const shown = cli('inventory', 'show', '-i', inv, '--explain-ssh', 'tos-1');
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`jump +root@${BASTION.replace(/\./g, '\\.')}:2222 +.*ssh_config:6`));
    const r = cli('check', '-i', inv, '--json');
    expect(r.stderr).not.toMatch(/error/i);
    const report = JSON.parse(r.stdout) as unknown;
    expect(JSON.stringify(report)).toContain('bastion-test');
    expect(JSON.stringify(report)).toMatch(/tos-1/);
    expect(JSON.stringify(report)).toMatch(/tos-2/);

    // plan gathers its facts through the bastion too: these hosts have no etcd, so the honest plan is BLOCKED on what
    // it read from them (exit 1), not a connection failure (exit 2).
    const pl = cli('plan', '-i', inv, join(__dirname, '../../playbooks/tos-etcd-renew.yaml'));
    expect(pl.status, pl.stderr).toBe(1);
    expect(pl.stdout).toMatch(/Status: BLOCKED/);
    expect(pl.stdout).toMatch(/tos-1: \/srv\/kubernetes\/etcd-ca\.pem is missing/);
    expect(pl.stdout + pl.stderr).not.toMatch(/cannot (connect|reach)|unreachable/);

    // The same fleet as an Ansible inventory: the bastion from ansible_ssh_common_args, cluster vars from an overlay.
    const ini = join(dir, 'hosts.ini');
    writeFileSync(ini, `[kube_control_plane]\nnode1 ansible_host=${TARGETS[0]} ansible_port=2222\nnode2 ansible_host=${TARGETS[1]} ansible_port=2222\n\n[all:vars]\nansible_user=root\nansible_ssh_private_key_file=${bastion.clientKey.privateKeyFile}\nansible_ssh_common_args='-o ProxyCommand="ssh -W %h:%p -q -p 2222 root@${BASTION}"'\n`);
    const overlay = join(dir, 'overlay.yaml');
    writeFileSync(overlay, `ssh: { config: none, knownHostsFile: ${knownHosts} }\nvars: { checkPaths: ["${certDir}/*.pem"] }\n`);
    const a = cli('check', '-i', ini, '--overlay', overlay, '--json');
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout).toContain('bastion-test');
    expect(a.stdout).toMatch(/node1/);
    expect(a.stdout).toMatch(/node2/);
  });
});
