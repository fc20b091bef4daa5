// Start-up of the certroll CLI: wall and CPU time, peak RSS and the modules loaded for `--help`, `runs` and input refused at
// validation (the fuzz test's kind of case), beside `node -e 0` (the floor: Node itself). Median of --runs (default 10) each,
// the cases alternating; times from GNU time (/usr/bin/time: wall, user, sys, max RSS; without it, wall only). The modules
// come from one more run of each case with bench/startup/record-modules.mjs (never a timed run). The load average is printed
// before and after: on a shared machine the wall clock measures the neighbours too; user CPU much less so.
//
// Usage: npm run bench:startup [-- --runs 10] [--cli dist/cli/certroll.cjs] [--fuzz]
//   --cli   the CLI to measure (default: package.json's bin, what `certroll` runs once installed; e.g. a copy of an older
//           build, to compare). `node dist/cli/bin.js --help` (the same CLI through an ES module) is measured beside it.
//   --fuzz  also run `npx vitest run test/unit/fuzz-input.test.ts` once (FUZZ_CLI=--cli) and print its duration and CPU
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1];
};
const RUNS = Number(arg('runs', 10));
const BIN = JSON.parse(readFileSync('package.json', 'utf8')).bin.certroll;
const CLI = arg('cli', BIN);
const FUZZ = process.argv.includes('--fuzz');
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
if (!existsSync(CLI)) {
  console.error(`no ${CLI}: npm run build first`);
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'certroll-startup-'));
const badInventory = join(dir, 'bad-inventory.yaml');
writeFileSync(badInventory, 'hosts: [\n'); // a YAML syntax error: exit 3 naming file and line, no host contacted
const env = { ...process.env, NO_COLOR: '1', CERTROLL_HOME: join(dir, 'home') }; // `runs`: an empty journal

const cases = [
  { name: 'node -e 0 (floor)', argv: ['-e', '0'], code: 0 },
  { name: 'import yargs (node_modules)', argv: ['--input-type=module', '-e', 'await import("yargs")'], code: 0 },
  { name: 'certroll --help', argv: [CLI, '--help'], code: 0 },
  ...(CLI !== BIN || BIN === 'dist/cli/bin.js' ? [] : [{ name: 'node dist/cli/bin.js --help', argv: ['dist/cli/bin.js', '--help'], code: 0 }]),
  { name: 'certroll runs', argv: [CLI, 'runs'], code: 0 },
  { name: 'certroll plan, bad inventory', argv: [CLI, 'plan', '-i', badInventory, 'playbooks/tos-etcd-renew.yaml'], code: 3 },
  { name: 'certroll run, bad inventory', argv: [CLI, 'run', '--yes', '-i', badInventory, 'playbooks/tos-etcd-renew.yaml'], code: 3 },
];

/** One run: wall, user, sys (s), max RSS (MB) and the exit code. */
function once(argv) {
  const fmt = join(dir, 'time.txt');
  const t0 = process.hrtime.bigint();
  const r = TIME
    ? spawnSync(TIME, ['-o', fmt, '-f', '%e %U %S %M', process.execPath, ...argv], { env, encoding: 'utf8' })
    : spawnSync(process.execPath, argv, { env, encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!TIME) return { wall, code: r.status };
  const [, user, sys, rss] = readFileSync(fmt, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { wall, user, sys, rss: rss / 1024, code: r.status };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const la = () => loadavg().map((x) => x.toFixed(1)).join(' ');

/** The modules one run loads: certroll's files and the packages from node_modules, from record-modules.mjs. */
function modules(argv) {
  if (!argv.includes(CLI) && !argv.includes('dist/cli/bin.js')) return null;
  const out = join(dir, 'modules.txt');
  rmSync(out, { force: true });
  spawnSync(process.execPath, ['--import', resolve('bench/startup/record-modules.mjs'), ...argv], { env: { ...env, CERTROLL_RECORD_MODULES: out }, encoding: 'utf8' });
  const urls = [...new Set(readFileSync(out, 'utf8').trim().split('\n'))];
  const packages = new Set(urls.map((u) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter(Boolean));
  const own = urls.filter((u) => !u.includes('/node_modules/') && !u.includes('/bench/startup/'));
  return { files: urls.length, own: own.length, packages: [...packages].sort(), heavy: ['ssh2', 'node-forge', 'listr2'].filter((p) => packages.has(p)) };
}

console.log(`certroll start-up: ${CLI}, ${RUNS} runs each, median; node ${process.version}; ${new Date().toISOString()}`);
console.log(`load average at start: ${la()}`);
const samples = new Map(cases.map((c) => [c.name, []]));
for (let i = 0; i < RUNS; i++) {
  for (const c of cases) {
    const s = once(c.argv);
    if (s.code !== c.code) throw new Error(`${c.name}: exit ${s.code}, expected ${c.code}`);
    samples.get(c.name).push(s);
  }
}
const rows = cases.map((c) => {
  const s = samples.get(c.name);
  const m = modules(c.argv);
  const ms = (k) => (TIME || k === 'wall' ? `${Math.round(median(s.map((x) => x[k])) * 1000)} ms` : '-');
  return {
    case: c.name,
    wall: ms('wall'),
    user: ms('user'),
    sys: ms('sys'),
    rss: TIME ? `${Math.round(median(s.map((x) => x.rss)))} MB` : '-',
    modules: m ? `${m.files} files (${m.own} of certroll's dist), ${m.packages.length} from node_modules` : '-',
    'ssh2/forge/listr2': m ? m.heavy.join(', ') || 'none' : '-',
  };
});
console.table(rows);
console.log(`load average at end: ${la()}`);

if (FUZZ) {
  const before = la();
  const t0 = Date.now();
  const fmt = join(dir, 'fuzz-time.txt');
  const argv = ['npx', 'vitest', 'run', 'test/unit/fuzz-input.test.ts'];
  const r = spawnSync(TIME ?? argv[0], TIME ? ['-o', fmt, '-f', '%e %U %S', ...argv] : argv.slice(1), { env: { ...process.env, FUZZ_CLI: CLI }, encoding: 'utf8', maxBuffer: 1 << 26 });
  const wall = (Date.now() - t0) / 1000;
  const cpu = TIME ? readFileSync(fmt, 'utf8').trim().split('\n').pop().split(' ').map(Number) : null;
  const tests = /Tests\s+(.*)/.exec(r.stdout.replace(/\x1b\[[0-9;]*m/g, ''))?.[1]?.trim();
  console.log(`fuzz test (${argv.slice(1).join(' ')}): ${wall.toFixed(1)} s wall${cpu ? `, ${cpu[1].toFixed(1)} s user + ${cpu[2].toFixed(1)} s sys (vitest and every CLI it spawned)` : ''}, exit ${r.status}, tests: ${tests ?? '?'}; load average ${before} before, ${la()} after`);
}
rmSync(dir, { recursive: true, force: true });
