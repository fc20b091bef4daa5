// Where a process's CPU went, from a V8 .cpuprofile (node --cpu-prof): self time by area and the top functions.
// Usage: node bench/check/profile-summary.mjs FILE.cpuprofile [--top 20]
import { readFileSync } from 'node:fs';

const file = process.argv[2];
const top = process.argv.includes('--top') ? Number(process.argv[process.argv.indexOf('--top') + 1]) : 20;
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));

/** The area a function belongs to, from its script URL. */
function area(cf) {
  const u = cf.url ?? '';
  const f = cf.functionName;
  if (!u) {
    if (f === '(garbage collector)') return 'garbage collection';
    if (f === '(idle)') return 'idle (waiting for the network)';
    if (f === '(program)') return 'V8/native, outside JS (incl. libuv, OpenSSL called from C++)';
    return `native: ${f}`;
  }
  if (u.includes('/ssh2/lib/protocol/crypto') || u.includes('/ssh2/lib/protocol/kex')) return 'ssh2 crypto + kex (JS side)';
  if (u.includes('/ssh2/lib/protocol/keyParser')) return 'ssh2 key parsing';
  if (u.includes('/ssh2/')) return 'ssh2 protocol (packets, channels)';
  if (u.startsWith('node:internal/crypto') || u === 'node:crypto') return 'node:crypto (native crypto entry points)';
  if (u.includes('/node-forge/')) return 'node-forge (certificate decoding)';
  if (u.includes('/js-yaml/') || u.includes('/dist/yaml/') || u.includes('/dist/inventory/')) return 'inventory + YAML';
  if (u.includes('/dist/check/render') || u.includes('/dist/render/')) return 'rendering';
  if (u.includes('/dist/check/')) return 'check: scan output parsing, holdings, report';
  if (u.includes('/dist/ssh/')) return 'certroll ssh layer';
  if (u.includes('/yargs') || u.includes('/dist/cli/')) return 'CLI (yargs, commands)';
  if (u.startsWith('node:internal/modules') || u.startsWith('node:internal/bootstrap')) return 'module loading';
  if (u.startsWith('node:')) return `node core: ${u.replace(/^node:(internal\/)?/, '').split('/')[0]}`;
  if (u.includes('/dist/')) return `certroll: ${u.split('/dist/')[1].split('/')[0]}`;
  return u.split('/node_modules/')[1]?.split('/')[0] ?? u;
}

const total = [...self.values()].reduce((a, b) => a + b, 0);
const areas = new Map();
const fns = new Map();
for (const [id, us] of self) {
  const n = byId.get(id);
  const a = area(n.callFrame);
  areas.set(a, (areas.get(a) ?? 0) + us);
  const key = `${n.callFrame.functionName || '(anonymous)'} ${(n.callFrame.url ?? '').replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/')}:${n.callFrame.lineNumber + 1}`;
  fns.set(key, (fns.get(key) ?? 0) + us);
}
const ms = (us) => `${(us / 1000).toFixed(0).padStart(6)} ms`;
const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
const busy = total - (areas.get('idle (waiting for the network)') ?? 0);
console.log(`${file}: ${(total / 1e6).toFixed(2)} s profiled, ${(busy / 1e6).toFixed(2)} s on the CPU (not idle)`);
console.log('self time by area');
for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1])) console.log(`  ${ms(us)} ${pct(us)}  ${a}`);
console.log(`top ${top} functions (self time)`);
for (const [f, us] of [...fns].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`  ${ms(us)} ${pct(us)}  ${f}`);
