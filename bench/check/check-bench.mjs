// Benchmark of `certroll check` on the lab with extra hosts, against a sequential and a parallel OpenSSH loop reading the same files.
// Usage (after `npm run build` and `npm run lab -- up --extra 200`): node bench/check/check-bench.mjs [--dir LABDIR] [--parallel 20] [--runs 3]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string', default: process.env.CERTROLL_LAB_DIR || '/var/lib/certroll-lab' },
    parallel: { type: 'string', default: '20' },
    runs: { type: 'string', default: '3' },
    forks: { type: 'string', default: '20' },
    'skip-sequential': { type: 'boolean', default: false },
  },
});
const dir = args.dir;
const inventory = join(dir, 'inventory-extra.yaml');
if (!existsSync(inventory)) {
  console.error(`no ${inventory}: run \`npm run lab -- up --extra 200${dir !== '/var/lib/certroll-lab' ? ` --dir ${dir}` : ''}\` first`);
  process.exit(1);
}
if (!existsSync('dist/cli/bin.js')) {
  console.error('no dist/cli/bin.js: run `npm run build` first');
  process.exit(1);
}
const invText = readFileSync(inventory, 'utf8');
const addresses = [...invText.matchAll(/^\s+[\w.-]+: \{ address: ([\d.]+)/gm)].map((m) => m[1]);
const identity = /identityFile: (\S+)/.exec(invText)[1];
const knownHosts = /knownHostsFile: (\S+)/.exec(invText)[1];
const time = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/** Run a command under GNU time: wall seconds and peak RSS (KB) of the whole process. */
function measure(argv, opts = {}) {
  const started = process.hrtime.bigint();
  const r = spawnSync(time ?? argv[0], time ? ['-f', 'certroll-bench-rss=%M', ...argv] : argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const rss = /certroll-bench-rss=(\d+)/.exec(r.stderr ?? '')?.[1];
  return { wall, rssKb: rss ? Number(rss) : undefined, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const mb = (kb) => (kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(0)} MB`);
const s = (x) => `${x.toFixed(2)} s`;

console.log(`certroll check benchmark: ${addresses.length} hosts (${inventory}), ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores, forks ${args.forks}`);

// 1. certroll check (the real CLI), a few runs.
const runs = [];
for (let i = 0; i < Number(args.runs); i++) {
  const m = measure(['node', 'dist/cli/bin.js', 'check', '-i', inventory, '--json', '--forks', args.forks]);
  if (m.status !== 0 && m.status !== 1) {
    console.error(`certroll check exited ${m.status}:\n${m.stderr}`);
    process.exit(1);
  }
  const report = JSON.parse(m.stdout);
  runs.push({ ...m, report });
  console.log(
    `  run ${i + 1}: wall ${s(m.wall)} (in-process ${report.run.durationMs} ms), ${report.summary.hostsRead}/${report.summary.hosts} hosts read, ` +
      `${report.run.connections} connections, ${report.run.roundTrips} round trips (${(report.run.roundTrips / report.summary.hostsRead).toFixed(2)} per host), peak RSS ${mb(m.rssKb)}`,
  );
}
const best = runs.reduce((a, b) => (b.wall < a.wall ? b : a));
const median = [...runs].sort((a, b) => a.wall - b.wall)[Math.floor(runs.length / 2)];

// What the OpenSSH loops read: the files of the default TOS check path on each host.
const remote = 'cat /srv/kubernetes/*.pem >/dev/null';
const sshOpts = ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-i', identity, '-l', 'root'];
const q = (x) => `'${x.replace(/'/g, `'\\''`)}'`;

// 2. Sequential OpenSSH loop.
let seq;
if (!args['skip-sequential']) {
  const script = `for h in "$@"; do ssh -n ${sshOpts.map(q).join(' ')} "$h" ${q(remote)} || echo "failed: $h" >&2; done`;
  seq = measure(['sh', '-c', script, 'sh', ...addresses]);
  console.log(`  sequential OpenSSH loop (for h; do ssh -n h cat …; done): wall ${s(seq.wall)}`);
}

// 3. Parallel OpenSSH loop.
const par = measure(['sh', '-c', `printf '%s\\n' "$@" | xargs -P ${Number(args.parallel)} -I{} ssh -n ${sshOpts.map(q).join(' ')} {} ${q(remote)}`, 'sh', ...addresses]);
console.log(`  parallel OpenSSH loop (xargs -P ${args.parallel} ssh …): wall ${s(par.wall)}`);

const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log('');
console.log('summary');
console.log(`  certroll check wall: best ${s(best.wall)}, median ${s(median.wall)} (target < 3 s)`);
console.log(`  round trips per host: ${(best.report.run.roundTrips / best.report.summary.hostsRead).toFixed(2)} (target <= 2); connections per host: ${(best.report.run.connections / best.report.summary.hostsRead).toFixed(2)}`);
console.log(`  peak RSS: ${mb(Math.max(...runs.map((r) => r.rssKb ?? 0)) || undefined)} (target < 200 MB)`);
if (seq) console.log(`  vs sequential OpenSSH: ${(seq.wall / median.wall).toFixed(1)}x faster (target >= 5x)`);
console.log(`  vs parallel OpenSSH (-P ${args.parallel}): ${(par.wall / median.wall).toFixed(1)}x (target >= 1x)`);
console.log(`  load average at the end: ${load} (other processes on the machine skew the figures)`);
