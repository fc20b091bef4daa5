// Benchmark of `certroll check` against its peers, side by side in one invocation: a bare ssh2 script (the floor: one
// connection + one exec per host, same concurrency), `xargs -P N ssh`, and Ansible ad-hoc (`ansible all -m shell`),
// on several fleet sizes carved out of one lab, contenders alternating in a rotating order in each round.
// Usage (after `npm run build` and `node lab/dist/cli.js up --extra 1000 [--dir D --subnet 127.X]`):
//   node bench/check/check-bench.mjs [--dir LABDIR] [--sizes 205,1005] [--rounds 2] [--forks 20]
//                                    [--only certroll,bare,xargs,ansible] [--peer-rounds N] [--ansible-timeout S] [--json FILE]
// Ansible is a bench-only dependency (`apt-get install ansible`); without it that contender is skipped with a note.
// Per run it prints: wall time, client CPU (user+sys of the whole process tree), peak RSS (of the contender's process tree,
// sampled every 100 ms; for the single-process ones GNU time's exact peak), sshd-side CPU (user+sys reaped by the lab's
// sshd listeners: sshd sessions, the shell and what it runs), and the load average when the run started.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string', default: process.env.CERTROLL_LAB_DIR || '/var/lib/certroll-lab' },
    sizes: { type: 'string', default: '205,1005' },
    rounds: { type: 'string', default: '2' },
    forks: { type: 'string', default: '20' },
    only: { type: 'string', default: 'certroll,bare,xargs,ansible' },
    json: { type: 'string' },
    'certroll-args': { type: 'string', default: '' },
    // xargs+ssh and Ansible cost several times the CPU of the others (Ansible ~0.4 s of client CPU and ~0.4 s of host CPU
    // per host): on a small loaded box, one round of them is often all there is time for. They run in the first N rounds.
    'peer-rounds': { type: 'string' },
    // Stop Ansible (SIGINT, so it ends its workers and GNU time still reports) after this many seconds and report the hosts
    // it finished and its rate; on a loaded 2-core box, 1,005 hosts of Ansible take longer than a session has.
    'ansible-timeout': { type: 'string' },
  },
});
const dir = args.dir;
const forks = Number(args.forks);
const inventory = join(dir, 'inventory-extra.yaml');
if (!existsSync(inventory)) {
  console.error(`no ${inventory}: run \`node lab/dist/cli.js up --extra 1000 --dir ${dir}\` first`);
  process.exit(1);
}
if (!existsSync('dist/cli/bin.js')) {
  console.error('no dist/cli/bin.js: run `npm run build` first');
  process.exit(1);
}
const invText = readFileSync(inventory, 'utf8');
const allHosts = [...invText.matchAll(/^\s+([\w.-]+): \{ address: ([\d.]+)/gm)].map((m) => ({ name: m[1], address: m[2] }));
const identity = /identityFile: (\S+)/.exec(invText)[1];
const knownHosts = /knownHostsFile: (\S+)/.exec(invText)[1];
const port = Number(/^\s+port: (\d+)/m.exec(invText)?.[1] ?? 22);
const sizes = args.sizes.split(',').map(Number);
for (const n of sizes) if (n > allHosts.length) { console.error(`size ${n}: the lab has only ${allHosts.length} hosts`); process.exit(1); }
const haveAnsible = spawnSync('sh', ['-c', 'command -v ansible'], { encoding: 'utf8' }).status === 0;
const contenders = args.only.split(',').filter((c) => c !== 'ansible' || haveAnsible);
if (!haveAnsible && args.only.includes('ansible')) console.log('note: ansible is not installed (apt-get install ansible): skipped');
const work = mkdtempSync(join(tmpdir(), 'certroll-bench-check-'));

// The same files certroll's lab inventory checks, and only their certificate blocks back (no key crosses the wire).
const readCommand =
  "cat /srv/kubernetes/*.pem /etc/kubernetes/pki/*.crt /etc/kubernetes/pki/*/*.crt /var/lib/kubelet/pki/*.crt /etc/kubernetes/*.conf 2>/dev/null | awk '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/'";
const q = (x) => `'${x.replace(/'/g, `'\\''`)}'`;
const sshOpts = ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ControlMaster=no', '-i', identity, '-l', 'root', '-p', String(port)];

/** A lab inventory (certroll YAML and Ansible INI) with the first n hosts: the five core hosts, then extra hosts. */
function inventoriesFor(n) {
  const keep = new Set(allHosts.slice(0, n).map((h) => h.name));
  const yaml = invText
    .split('\n')
    .filter((l) => { const m = /^\s+([\w.-]+): \{ address:/.exec(l); return !m || keep.has(m[1]); })
    .map((l) => (l.startsWith('  extra: [') ? `  extra: [${allHosts.slice(5, n).map((h) => h.name).join(', ')}]` : l))
    .join('\n');
  const certroll = join(work, `inventory-${n}.yaml`);
  writeFileSync(certroll, yaml);
  const ini = join(work, `ansible-${n}.ini`);
  writeFileSync(ini, `[all]\n${allHosts.slice(0, n).map((h) => `${h.name} ansible_host=${h.address}`).join('\n')}\n`);
  return { certroll, ini, addresses: allHosts.slice(0, n).map((h) => h.address) };
}

// Ansible as a careful operator sets it up: host keys checked against the lab's known_hosts, pipelining on, the
// interpreter named (no discovery round trip), no fact gathering (ad-hoc never gathers); no ControlPersist, so every
// contender opens fresh connections.
const ansibleCfg = join(work, 'ansible.cfg');
writeFileSync(ansibleCfg, [
  '[defaults]',
  'host_key_checking = True',
  `forks = ${forks}`,
  'remote_user = root',
  `private_key_file = ${identity}`,
  'interpreter_python = /usr/bin/python3',
  `remote_port = ${port}`,
  'stdout_callback = minimal',
  'timeout = 30',
  '[ssh_connection]',
  'pipelining = True',
  `ssh_args = -o ControlMaster=no -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes`,
  '',
].join('\n'));

function argvFor(who, inv) {
  switch (who) {
    case 'certroll': return ['node', 'dist/cli/bin.js', 'check', '-i', inv.certroll, '--json', '--forks', String(forks), ...args['certroll-args'].split(' ').filter(Boolean)];
    case 'bare': return ['node', 'bench/check/bare-ssh2.mjs', '--inventory', inv.certroll, '--forks', String(forks), '--command', readCommand];
    case 'xargs': return ['sh', '-c', `printf '%s\\n' "$@" | xargs -P ${forks} -I{} ssh -n ${sshOpts.map(q).join(' ')} {} ${q(readCommand)} >/dev/null`, 'sh', ...inv.addresses];
    case 'ansible': return ['ansible', 'all', '-i', inv.ini, '-f', String(forks), '-m', 'shell', '-a', readCommand, '-o'];
  }
  throw new Error(who);
}

/** CPU (user+sys, seconds) spent by the lab's sshd listeners and everything they forked and reaped. */
const sshdPids = (() => {
  try { return JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')).hosts.map((h) => h.sshdPid).filter(Boolean); } catch { return []; }
})();
const tick = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
function sshdCpu() {
  let t = 0;
  for (const pid of sshdPids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
      t += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch { /* gone */ }
  }
  return t / tick;
}

/** Sum of RSS (KB) of a process and its descendants. */
function treeRssKb(pid) {
  let kb = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
      for (const t of readdirSync(`/proc/${p}/task`)) {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').split(' ').filter(Boolean)) stack.push(Number(c));
      }
    } catch { /* gone */ }
  }
  return kb;
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

function measure(who, inv) {
  const argv = argvFor(who, inv);
  const load = loadavg();
  const cpu0 = sshdCpu();
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    const child = spawn('/usr/bin/time', ['-f', 'bench-time=%e %U %S %M', ...argv], {
      env: { ...process.env, ANSIBLE_CONFIG: ansibleCfg, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    let peakTree = 0;
    let timedOut = false;
    const limit = who === 'ansible' && args['ansible-timeout'] ? setTimeout(() => {
      timedOut = true;
      try {
        for (const c of readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').split(' ').filter(Boolean)) process.kill(Number(c), 'SIGINT');
      } catch { /* already gone */ }
    }, 1000 * Number(args['ansible-timeout'])) : undefined;
    const sampler = setInterval(() => (peakTree = Math.max(peakTree, treeRssKb(child.pid))), 100);
    child.on('close', (status) => {
      clearInterval(sampler);
      clearTimeout(limit);
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const sshd = sshdCpu() - cpu0;
      const m = /bench-time=([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(err);
      const r = { who, hosts: inv.addresses.length, load, status, wall, clientCpu: m ? Number(m[2]) + Number(m[3]) : NaN, maxRssKb: m ? Number(m[4]) : NaN, treeRssKb: peakTree, sshdCpu: sshd };
      if (who === 'certroll') {
        try {
          const rep = JSON.parse(out);
          r.hostsRead = rep.summary.hostsRead;
          r.roundTrips = rep.run.roundTrips;
          r.inProcessMs = rep.run.durationMs;
        } catch { r.error = err.slice(-500); }
      } else if (who === 'bare') {
        try { const j = JSON.parse(out); r.hostsRead = j.ok; } catch { r.error = err.slice(-500); }
      } else if (who === 'ansible') {
        r.hostsRead = (out.match(/\| CHANGED \|/g) ?? []).length;
        if (timedOut) r.timedOut = true;
      } else {
        r.hostsRead = status === 0 ? inv.addresses.length : undefined;
      }
      if (status !== 0 && !(who === 'certroll' && status === 1) && !r.timedOut) r.error = err.split('\n').filter((l) => !l.startsWith('bench-time=')).slice(-3).join(' | ');
      resolve(r);
    });
  });
}

const fmtRow = (r) =>
  `  ${r.who.padEnd(9)} ${String(r.hosts).padStart(5)} hosts  wall ${r.wall.toFixed(2).padStart(6)} s  client CPU ${r.clientCpu.toFixed(2).padStart(6)} s  ` +
  `sshd CPU ${r.sshdCpu.toFixed(2).padStart(6)} s  RSS ${((r.who === 'certroll' || r.who === 'bare' ? r.maxRssKb : r.treeRssKb) / 1024).toFixed(0).padStart(4)} MB  ` +
  `read ${r.hostsRead ?? '?'}/${r.hosts}${r.timedOut ? ` (stopped after ${args['ansible-timeout']} s: ${(r.hostsRead / r.wall).toFixed(2)} hosts/s)` : ''}  load ${r.load}${r.roundTrips !== undefined ? `  ${r.roundTrips} round trips` : ''}${r.error ? `  ERROR ${r.error}` : ''}`;

console.log(`check benchmark: lab ${dir}, ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores, forks ${forks}, sizes ${sizes.join(', ')}, ${args.rounds} rounds, contenders ${contenders.join(', ')}`);
console.log(`date ${new Date().toISOString()}, host ${spawnSync('hostname', { encoding: 'utf8' }).stdout.trim()}, load ${loadavg()}`);
const results = [];
for (const n of sizes) {
  const inv = inventoriesFor(n);
  for (let round = 0; round < Number(args.rounds); round++) {
    // Rotate the order each round, so no contender always runs first (warm caches) or after the heaviest one.
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length])
      .filter((c) => c === 'certroll' || c === 'bare' || args['peer-rounds'] === undefined || round < Number(args['peer-rounds']));
    console.log(`${n} hosts, round ${round + 1}: ${order.join(' → ')}`);
    for (const who of order) {
      const r = await measure(who, inv);
      results.push({ ...r, round: round + 1 });
      console.log(fmtRow(r));
    }
  }
}

console.log('\nsummary (median of rounds; ratio = contender / bare ssh2 script)');
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const rss = (r) => (r.who === 'certroll' || r.who === 'bare' ? r.maxRssKb : r.treeRssKb) / 1024;
for (const n of sizes) {
  const of = (who) => results.filter((r) => r.hosts === n && r.who === who);
  const bare = of('bare');
  for (const who of contenders) {
    const rs = of(who);
    if (!rs.length) continue;
    const stopped = rs.find((r) => r.timedOut);
    if (stopped) {
      const rate = stopped.hostsRead / stopped.wall;
      console.log(`  ${String(n).padStart(5)} hosts  ${who.padEnd(9)} stopped after ${stopped.wall.toFixed(0)} s with ${stopped.hostsRead} hosts done: ${rate.toFixed(2)} hosts/s, ` +
        `${(n / rate).toFixed(0)} s projected for ${n} (${((n / rate) / median(bare.map((b) => b.wall))).toFixed(1)}× the bare script's median), client CPU ${(1000 * stopped.clientCpu / stopped.hostsRead).toFixed(0)} ms/host, ` +
        `sshd CPU ${(1000 * stopped.sshdCpu / stopped.hostsRead).toFixed(0)} ms/host, RSS ${rss(stopped).toFixed(0)} MB`);
      continue;
    }
    const w = median(rs.map((r) => r.wall));
    // Per-round ratios: each against the bare run of the same round (same minutes on the machine).
    const ratios = rs.map((r) => { const b = bare.find((x) => x.round === r.round); return b ? r.wall / b.wall : NaN; });
    console.log(
      `  ${String(n).padStart(5)} hosts  ${who.padEnd(9)} wall ${w.toFixed(2).padStart(6)} s (${rs.map((r) => r.wall.toFixed(2)).join(', ')})  ` +
        `ratio ${ratios.map((x) => x.toFixed(2)).join(', ')}  client CPU ${median(rs.map((r) => r.clientCpu)).toFixed(2)} s (${(1000 * median(rs.map((r) => r.clientCpu)) / n).toFixed(1)} ms/host)  ` +
        `sshd CPU ${(1000 * median(rs.map((r) => r.sshdCpu)) / n).toFixed(1)} ms/host  RSS ${median(rs.map(rss)).toFixed(0)} MB`,
    );
  }
}
console.log(`load average at the end: ${loadavg()} (other processes on the machine skew absolute times; compare within a round)`);
if (args.json) writeFileSync(args.json, JSON.stringify({ at: new Date().toISOString(), forks, results }, null, 2));
rmSync(work, { recursive: true, force: true });
