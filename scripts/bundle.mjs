// Bundles the compiled CLI (dist/cli/bin.js and everything it imports, yargs and the other ESM dependencies included) into
// one CommonJS file, dist/cli/bundle.cjs, plus one chunk per lazily imported part in dist/cli/chunks/, and records V8's code
// cache of them (a `.v8cache` beside each file). Why (docs/performance.md, "Start-up"): Node 20 loads an ES module graph file
// by file (yargs alone is ~60 files) and compiles every start from scratch; the executable, dist/cli/certroll.cjs (from
// src/cli/certroll.cjs; package.json "bin"), runs the bundle and its chunks from the code cache, and dist/cli/bin.js becomes
// a one-line ES module importing it (the path scripts, tests and docs run). The dynamic imports stay lazy (a command's
// module, the SSH layer, listr2 are chunks, required when needed); ssh2 and node-forge stay in node_modules (lazyRequire).
//
// Runs after `tsc -p tsconfig.json` (npm run build). Without rolldown (a dependency of vitest's vite, so present in every
// dev install) it leaves tsc's output as it is and certroll.cjs imports tsc's bin.js: the CLI works the same, only its
// start-up is slower.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { assertOnFailure, builtinImportsAsRequire, lazyUnicodeTables, stringWidthAscii, yargsShim } from './bundle-plugins.mjs';

const out = 'dist/cli';
cpSync('src/cli/certroll.cjs', join(out, 'certroll.cjs'));
chmodSync(join(out, 'certroll.cjs'), 0o755);
let rolldown;
try {
  rolldown = await import('rolldown');
} catch {
  console.error('bundle: rolldown is not installed; dist/cli/bin.js stays unbundled (slower start-up)');
  process.exit(0);
}

const tmp = mkdtempSync(join(tmpdir(), 'certroll-bundle-'));
try {
  await rolldown.build({
    input: join(out, 'bin.js'),
    platform: 'node',
    // Everything from node_modules except the CommonJS packages certroll requires lazily (never reached through an import).
    external: ['ssh2', 'node-forge', 'cpu-features'],
    plugins: [yargsShim, stringWidthAscii, lazyUnicodeTables, assertOnFailure, builtinImportsAsRequire],
    logLevel: 'warn',
    // chunks/ is as deep as dist/cli/commands/, so a command module's `new URL('../../../…', import.meta.url)` (status.ts:
    // the shipped playbook) still points at the package root.
    output: { dir: tmp, format: 'cjs', entryFileNames: 'bundle.cjs', chunkFileNames: 'chunks/[name]-[hash].cjs' },
  });
  const files = ['bundle.cjs', ...(existsSync(join(tmp, 'chunks')) ? readdirSync(join(tmp, 'chunks')).map((f) => `chunks/${f}`) : [])];
  for (const f of files) {
    let code = readFileSync(join(tmp, f), 'utf8');
    // vm.Script compiles it inside a function: the entry's #! line becomes a comment (same line numbers).
    if (f === 'bundle.cjs') {
      if (!code.startsWith('#!/usr/bin/env node\n')) throw new Error('bundle: the entry lost its #! line');
      code = '//' + code;
    }
    if (/\bimport\(/.test(code)) throw new Error(`bundle: ${f} has a dynamic import(), which vm.Script cannot run on Node 20; make it a require`);
    if (/\bimport\.meta\b/.test(code)) throw new Error(`bundle: ${f} uses import.meta, which a CommonJS bundle does not have`);
    writeFileSync(join(tmp, f), code);
  }
  rmSync(join(out, 'chunks'), { recursive: true, force: true });
  rmSync(join(out, 'locales'), { recursive: true, force: true });
  if (existsSync(join(tmp, 'chunks'))) cpSync(join(tmp, 'chunks'), join(out, 'chunks'), { recursive: true });
  cpSync(join(tmp, 'bundle.cjs'), join(out, 'bundle.cjs'));
  rmSync(join(out, 'bundle.cjs.v8cache'), { force: true }); // recorded afresh below
  cpSync(join(dirname(createRequire(resolve(out, 'bin.js')).resolve('yargs/package.json')), 'locales'), join(out, 'locales'), { recursive: true });
  // `node dist/cli/bin.js` (scripts, tests, docs) runs the same executable.
  writeFileSync(join(out, 'bin.js'), "#!/usr/bin/env node\n// certroll's executable is dist/cli/certroll.cjs (package.json \"bin\"); this path runs it too.\nimport './certroll.cjs';\n");
  rmSync(join(out, 'bin.js.map'), { force: true }); // tsc's map of the unbundled file
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

// The code cache: certroll run as a user would, with scripts/code-cache.cjs writing each script's cache at exit, once per
// command below (--help, runs, and input refused at validation, as in the fuzz test); each run starts from the caches the
// previous ones wrote, so the last holds the functions all of them ran. A command that never ran here (a real `run`) still
// finds the bundle's cache, and compiles only the functions and chunks none of these reached.
const work = mkdtempSync(join(tmpdir(), 'certroll-code-cache-'));
try {
  const badInventory = join(work, 'bad-inventory.yaml');
  writeFileSync(badInventory, 'hosts: [\n');
  const runs = [
    [['--help'], 0],
    [['runs'], 0],
    [['plan', '-i', badInventory, join(work, 'playbook.yaml')], 3],
    [['run', '--yes', '-i', badInventory, join(work, 'playbook.yaml')], 3],
    [['check', '-i', badInventory], 3],
  ];
  for (const [args, code] of runs) {
    const r = spawnSync(process.execPath, ['--require', resolve('scripts/code-cache.cjs'), join(out, 'certroll.cjs'), ...args], {
      encoding: 'utf8',
      // No NODE_OPTIONS: V8 flags in it (a heap limit, say) would make a cache that V8 rejects in a plain `certroll`.
      env: { ...process.env, NODE_OPTIONS: '', NO_COLOR: '1', CERTROLL_HOME: join(work, 'home') },
    });
    if (r.status !== code) throw new Error(`bundle: certroll ${args.join(' ')} exited ${r.status}, expected ${code}, while recording the code cache:\n${r.stderr}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
