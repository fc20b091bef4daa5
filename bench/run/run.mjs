// Benchmark of `certroll run` on the lab: total wall time, the part spent in pauses and in waiting for etcd, the rest
// (certroll's own overhead), and SSH connections / round trips per host. Usage: npm run bench:run [-- --pause 2] [-- --trace]
// --trace: also list where the round trips go, step by step (bench/run/trace-ssh.cjs wraps ssh2 inside the run).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const labDir = process.env.CERTROLL_LAB_DIR || '/var/lib/certroll-lab';
const pause = process.argv.includes('--pause') ? process.argv[process.argv.indexOf('--pause') + 1] : '2';
const trace = process.argv.includes('--trace');
const home = mkdtempSync(join(tmpdir(), 'certroll-bench-run-'));
const lab = (...a) => execFileSync('node', ['lab/dist/cli.js', ...a, '--dir', labDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

let up = false;
try { up = JSON.parse(lab('status', '--json')).up; } catch { up = false; }
if (!up) lab('up');
lab('reset');

const dbPassword = (() => {
  try {
    return readFileSync(join(labDir, 'db-password'), 'utf8').trim();
  } catch {
    return undefined;
  }
})();
const t0 = process.hrtime.bigint();
const traceFile = join(home, 'ssh-trace.json');
const r = spawnSync('node', [...(trace ? ['--require', './bench/run/trace-ssh.cjs'] : []), 'dist/cli/bin.js', 'run', '-i', join(labDir, 'inventory.yaml'), 'playbooks/tos-etcd-renew.yaml', '--yes', '--json', '--pause', pause], {
  encoding: 'utf8',
  env: { ...process.env, CERTROLL_HOME: home, ...(trace ? { CERTROLL_BENCH_TRACE: traceFile } : {}), NO_COLOR: '1', ...(dbPassword ? { CERTROLL_DB_PASSWORD: dbPassword } : {}) },
  maxBuffer: 1 << 26,
});
const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
if (r.status !== 0) {
  console.error(r.stderr);
  process.exit(1);
}
const out = JSON.parse(r.stdout);
const events = readFileSync(join(home, 'runs', out.runId, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const timings = events.filter((e) => e.event === 'node-timing').map((e) => ({ host: e.host, ...JSON.parse(e.message) }));
const sum = (k) => timings.reduce((a, t) => a + t[k], 0);
const pauses = sum('pauseMs');
const etcdWait = sum('stopWaitMs') + sum('healthWaitMs');
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
console.log(`certroll run on the lab (${out.stats.hosts} hosts, --pause ${pause})`);
console.log(`  total wall time (process)      ${fmt(wallMs)}`);
console.log(`  apply phase (engine)           ${fmt(out.stats.wallMs)}`);
console.log(`  pauses                         ${fmt(pauses)}`);
console.log(`  waiting for etcd (stop+health) ${fmt(etcdWait)}   per node: ${timings.map((t) => `${t.host} stop ${t.stopWaitMs} ms, health ${t.healthWaitMs} ms`).join('; ')}`);
console.log(`  certroll's own overhead        ${fmt(wallMs - pauses - etcdWait)}   (everything else: connect, facts, PKI, backup, distribute, verify)`);
console.log(`  SSH connections                ${out.stats.connections} (${(out.stats.connections / out.stats.hosts).toFixed(1)} per host)`);
console.log(`  SSH round trips                ${out.stats.roundTrips} (${(out.stats.roundTrips / out.stats.hosts).toFixed(1)} per host, apply phase)`);
console.log(`  peak RSS of this bench driver  ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
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
lab('reset');
