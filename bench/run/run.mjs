// Benchmark of `certroll run` on the lab: total wall time, the part spent in pauses and in waiting for etcd, the rest
// (certroll's own overhead), and SSH connections / round trips per host.
// Usage: npm run bench:run [-- --pause 2] [-- --trace] [-- --dir LABDIR] [-- --peer [--rounds 2]] [-- --probe] [-- --flavour kubeadm]
// --flavour kubeadm: the kubeadm lab (lab up --flavour kubeadm; dir /var/lib/certroll-lab-kubeadm) and playbooks/kubeadm-renew.yaml.
// --trace: also list where the round trips go, step by step (bench/run/trace-ssh.cjs wraps ssh2 inside the run).
// --peer:  alternate `certroll run` with the Ansible playbook bench/peer/tos-etcd-renew.yml doing the same renewal on the
//          same lab (reset before every run), same pause; prints both times and the ratio. Needs `ansible-playbook`
//          (apt-get install ansible: a bench-only dependency, not in the lab's package list).
// --probe: an etcd write probe (bench/run/etcd-probe.mjs, a put every 100 ms through every endpoint) runs during each
//          run: failed writes and the longest gap between acknowledged writes, for both contenders.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startProbe } from './etcd-probe.mjs';

const { values: args } = parseArgs({
  options: {
    flavour: { type: 'string', default: 'tos' },
    dir: { type: 'string' },
    pause: { type: 'string', default: '2' },
    trace: { type: 'boolean', default: false },
    peer: { type: 'boolean', default: false },
    probe: { type: 'boolean', default: false },
    rounds: { type: 'string' },
  },
});
const kubeadm = args.flavour === 'kubeadm';
if (!['tos', 'kubeadm'].includes(args.flavour)) throw new Error(`--flavour: tos or kubeadm, not ${args.flavour}`);
if (kubeadm && args.peer) throw new Error('--peer: the Ansible peer playbook is the TOS renewal only');
const labDir = args.dir ?? (kubeadm ? '/var/lib/certroll-lab-kubeadm' : process.env.CERTROLL_LAB_DIR || '/var/lib/certroll-lab');
const playbook = kubeadm ? 'playbooks/kubeadm-renew.yaml' : 'playbooks/tos-etcd-renew.yaml';
const pause = args.pause;
const trace = args.trace;
const rounds = Number(args.rounds ?? (args.peer ? 2 : 1));
const lab = (...a) => execFileSync('node', ['lab/dist/cli.js', ...a, '--dir', labDir, ...(kubeadm ? ['--flavour', 'kubeadm'] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

// A lab that exists (whatever its options: --extra, --subnet) is reset before each run; only a missing one is brought up.
if (!existsSync(join(labDir, 'lab.json'))) lab('up');

const inventory = join(labDir, 'inventory.yaml');
const invText = readFileSync(inventory, 'utf8');
const hosts = [...invText.matchAll(/^\s+([\w.-]+): \{ address: ([\d.]+)/gm)].map((m) => ({ name: m[1], address: m[2] }));
const group = (g) => (new RegExp(`^  ${g}: \\[([^\\]]*)\\]`, 'm').exec(invText)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const dbPassword = (() => {
  try {
    return readFileSync(join(labDir, 'db-password'), 'utf8').trim();
  } catch {
    return undefined;
  }
})();

/** The probe's client files: the first master's etcd files as the lab made them (the renewed CA keeps subject and key, so
 * the old CA file keeps verifying the new server certificates). */
function probeStart() {
  if (!args.probe) return undefined;
  const first = group('etcd')[0];
  // kubeadm: the first node's etcd CA and healthcheck-client, as the lab made them (its /etc/kubernetes is fs/etc-kubernetes).
  const f = kubeadm ? (n) => readFileSync(join(labDir, 'hosts', first, 'fs', 'etc-kubernetes', 'pki', 'etcd', n), 'utf8') : (n) => readFileSync(join(labDir, 'hosts', first, 'fs', 'srv', 'kubernetes', n), 'utf8');
  const etcdPort = /etcdClientPort: (\d+)/.exec(invText)?.[1] ?? '4001';
  const endpoints = group('etcd').map((n) => `https://${hosts.find((h) => h.name === n).address}:${etcdPort}`);
  const [ca, cert, key] = kubeadm ? ['ca.crt', 'healthcheck-client.crt', 'healthcheck-client.key'] : ['etcd-ca.pem', 'etcd.pem', 'etcd-key.pem'];
  return startProbe({ endpoints, ca: f(ca), cert: f(cert), key: f(key), intervalMs: 100, prefix: `/certroll-bench/${Date.now()}` });
}

function runAsync(argv, opts) {
  return new Promise((resolve) => {
    const c = spawn(argv[0], argv.slice(1), { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** One `certroll run` on a freshly reset lab; prints the breakdown; returns wall time and probe figures. */
async function certrollRun() {
  lab('reset');
  const home = mkdtempSync(join(tmpdir(), 'certroll-bench-run-'));
  const traceFile = join(home, 'ssh-trace.json');
  const load = loadavg();
  const probe = probeStart();
  const t0 = process.hrtime.bigint();
  const r = await runAsync(['node', ...(trace ? ['--require', './bench/run/trace-ssh.cjs'] : []), 'dist/cli/bin.js', 'run', '-i', inventory, playbook, '--yes', '--json', '--pause', pause], {
    env: { ...process.env, CERTROLL_HOME: home, ...(trace ? { CERTROLL_BENCH_TRACE: traceFile } : {}), NO_COLOR: '1', ...(dbPassword ? { CERTROLL_DB_PASSWORD: dbPassword } : {}) },
  });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const probed = await probe?.stop();
  if (r.status !== 0) {
    console.error(r.stderr.slice(-3000), r.stdout.slice(-3000));
    process.exit(1);
  }
  const out = JSON.parse(r.stdout);
  const events = readFileSync(join(home, 'runs', out.runId, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const timings = events.filter((e) => e.event === 'node-timing').map((e) => ({ host: e.host, ...JSON.parse(e.message) }));
  const sum = (k) => timings.reduce((a, t) => a + t[k], 0);
  const pauses = sum('pauseMs');
  const etcdWait = sum('stopWaitMs') + sum('healthWaitMs');
  console.log(`certroll run ${playbook} on the ${args.flavour} lab (${out.stats.hosts} hosts, --pause ${pause}, load at start ${load}, ${new Date().toISOString()})`);
  console.log(`  total wall time (process)      ${fmt(wallMs)}`);
  console.log(`  apply phase (engine)           ${fmt(out.stats.wallMs)}`);
  console.log(`  pauses                         ${fmt(pauses)}`);
  console.log(`  waiting for etcd (stop+health) ${fmt(etcdWait)}   per node: ${timings.map((t) => `${t.host} stop ${t.stopWaitMs} ms, health ${t.healthWaitMs} ms`).join('; ')}`);
  console.log(`  certroll's own overhead        ${fmt(wallMs - pauses - etcdWait)}   (everything else: connect, facts, PKI, backup, staging, verify)`);
  console.log(`  SSH connections                ${out.stats.connections} (${(out.stats.connections / out.stats.hosts).toFixed(1)} per host)`);
  console.log(`  SSH round trips                ${out.stats.roundTrips} (${(out.stats.roundTrips / out.stats.hosts).toFixed(1)} per host, apply phase)`);
  if (probed) console.log(`  etcd write probe               ${probed.attempts} writes, ${probed.failures} failed, longest gap ${probed.longestGapMs} ms`);
  if (trace) {
    // Each round trip falls into the step whose start precedes it; before the first step: connect, facts, plan.
    const { rows } = JSON.parse(readFileSync(traceFile, 'utf8'));
    const starts = events.filter((e) => e.event === 'step-start').map((e) => ({ step: e.step, at: Date.parse(e.at) }));
    const ends = new Map(events.filter((e) => e.event === 'step-end').map((e) => [e.step, Date.parse(e.at)]));
    const groups = [{ step: '(before the first step: connect, facts, checks)', at: 0 }, ...starts].map((g) => ({ ...g, n: 0, ms: 0, kinds: new Map() }));
    for (const row of rows) {
      const g = [...groups].reverse().find((x) => x.at <= row.at);
      g.n++;
      g.ms += Math.max(0, row.ms);
      const key = row.kind === 'exec' ? row.what.split(' ').slice(0, 4).join(' ') : row.what.split(' ')[0];
      g.kinds.set(key, (g.kinds.get(key) ?? 0) + 1);
    }
    console.log(`\nround trips by step (${rows.length} seen by the trace; exec ${rows.filter((x) => x.kind === 'exec').length}, SFTP ${rows.filter((x) => x.kind !== 'exec').length})`);
    for (const g of groups) {
      const dur = g.at && ends.get(g.step) ? ` step ${fmt(ends.get(g.step) - g.at)}` : '';
      console.log(`  ${String(g.n).padStart(4)}  ${g.step}${dur}`);
      for (const [k, c] of [...g.kinds].sort((a, b) => b[1] - a[1]).slice(0, 9)) console.log(`          ${String(c).padStart(4)} × ${k.slice(0, 90)}`);
    }
  }
  if (!process.env.KEEP) rmSync(home, { recursive: true, force: true }); else console.log(home);
  return { who: 'certroll', wallMs, load, probe: probed, ownMs: wallMs - pauses - etcdWait };
}

/** The Ansible peer: the lab's five hosts as an INI inventory, an ansible.cfg a careful operator would write. */
function ansibleSetup() {
  const dir = mkdtempSync(join(tmpdir(), 'certroll-bench-peer-'));
  const v = (k) => new RegExp(`^  ${k}: (\\S+)`, 'm').exec(invText)?.[1];
  const db = /managerDb: \{ host: ([\d.]+), port: (\d+), user: (\w+), database: (\w+)/.exec(invText);
  const ini = [
    ...hosts.map((h) => `${h.name} ansible_host=${h.address}`),
    ...['master', 'etcd', 'flannel', 'manager'].flatMap((g) => ['', `[${g}]`, ...group(g)]),
    '',
    '[all:vars]',
    `cert_dir=${v('certDir')}`,
    `manifests_dir=${v('manifestsDir')}`,
    `park_dir=${v('parkDir')}`,
    `etcd_port=${v('etcdClientPort')}`,
    `manager_template_dir=${v('managerTemplateDir')}`,
    `db_host=${db[1]}`,
    `db_port=${db[2]}`,
    `db_user=${db[3]}`,
    `db_name=${db[4]}`,
    `pause_seconds=${pause}`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'hosts.ini'), ini);
  const knownHosts = /knownHostsFile: (\S+)/.exec(invText)[1];
  writeFileSync(join(dir, 'ansible.cfg'), [
    '[defaults]',
    'host_key_checking = True',
    'forks = 20',
    'remote_user = root',
    `private_key_file = ${/identityFile: (\S+)/.exec(invText)[1]}`,
    'interpreter_python = /usr/bin/python3',
    `remote_port = ${/^\s+port: (\d+)\s*$/m.exec(invText)?.[1] ?? 22}`,
    'gathering = explicit',
    'retry_files_enabled = False',
    '[ssh_connection]',
    'pipelining = True',
    // Ansible's own defaults (ControlMaster/ControlPersist: one SSH connection per host for the whole playbook), host keys
    // checked against the lab's known_hosts; a control path dir of its own per run, so no run reuses another's connections.
    `ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes`,
    '',
  ].join('\n'));
  return dir;
}

async function ansibleRun(dir, n) {
  lab('reset');
  const load = loadavg();
  const cp = mkdtempSync(join(dir, 'cp-'));
  const probe = probeStart();
  const t0 = process.hrtime.bigint();
  const r = await runAsync(['ansible-playbook', '-i', join(dir, 'hosts.ini'), 'bench/peer/tos-etcd-renew.yml', '-e', `run_id=bench${Date.now()}${n}`], {
    env: { ...process.env, ANSIBLE_CONFIG: join(dir, 'ansible.cfg'), ANSIBLE_SSH_CONTROL_PATH_DIR: cp, NO_COLOR: '1', ANSIBLE_NOCOLOR: '1', ...(dbPassword ? { CERTROLL_DB_PASSWORD: dbPassword } : {}) },
  });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const probed = await probe?.stop();
  // End this run's ControlPersist masters now (they would idle for 60 s).
  for (const h of hosts) spawnSync('ssh', ['-o', `ControlPath=${cp}/%C`, '-O', 'exit', '-l', 'root', h.address], { stdio: 'ignore' });
  const recap = r.stdout.slice(r.stdout.lastIndexOf('PLAY RECAP'));
  if (r.status !== 0) {
    console.error(r.stdout.slice(-4000), r.stderr.slice(-2000));
    process.exit(1);
  }
  console.log(`ansible-playbook bench/peer/tos-etcd-renew.yml (load at start ${load})`);
  console.log(`  total wall time (process)      ${fmt(wallMs)}`);
  if (probed) console.log(`  etcd write probe               ${probed.attempts} writes, ${probed.failures} failed, longest gap ${probed.longestGapMs} ms`);
  console.log(recap.trim().split('\n').map((l) => `  ${l}`).join('\n'));
  return { who: 'ansible', wallMs, load, probe: probed };
}

const results = [];
const peerDir = args.peer ? ansibleSetup() : undefined;
for (let i = 0; i < rounds; i++) {
  // Alternate which one goes first, so neither always runs on a machine the other just warmed or loaded.
  const order = args.peer ? (i % 2 === 0 ? ['certroll', 'ansible'] : ['ansible', 'certroll']) : ['certroll'];
  for (const who of order) {
    console.log(`\n[round ${i + 1}] ${who}`);
    results.push({ round: i + 1, ...(who === 'certroll' ? await certrollRun() : await ansibleRun(peerDir, i)) });
  }
}
lab('reset');
if (args.peer) {
  console.log(`\nsummary: certroll run vs the Ansible playbook, same lab, --pause ${pause}, ${new Date().toISOString()}`);
  console.log('  round  who       wall      load at start     writes failed  longest gap');
  for (const r of results) {
    console.log(`  ${String(r.round).padStart(5)}  ${r.who.padEnd(8)} ${fmt(r.wallMs).padStart(8)}   ${r.load.padEnd(16)} ${r.probe ? String(r.probe.failures).padStart(13) : '            -'}  ${r.probe ? `${r.probe.longestGapMs} ms` : '-'}`);
  }
  for (let i = 1; i <= rounds; i++) {
    const c = results.find((r) => r.round === i && r.who === 'certroll');
    const a = results.find((r) => r.round === i && r.who === 'ansible');
    console.log(`  round ${i}: Ansible / certroll = ${(a.wallMs / c.wallMs).toFixed(2)}× (target ≥ 1.5×)`);
  }
  rmSync(peerDir, { recursive: true, force: true });
}
