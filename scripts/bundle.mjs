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

/**
 * yargs' ESM shim finds its locale files and the program's package.json (for --version) from its own file's URL; in the
 * bundle that URL is dist/cli/bundle.cjs's. The locales are copied beside the bundle (dist/cli/locales/: the bundled yargs'
 * own, found without resolving a package at every start), and the package.json lookup starts at the bundle (whose nearest
 * package.json is certroll's). apply-extends' `import.meta.resolve` (a yargs config's `extends: 'package'`, which certroll
 * never passes) becomes require.resolve, as CommonJS has no import.meta. Fails the build when yargs' text changes.
 */
const yargsShim = {
  name: 'yargs-esm-shim-paths',
  transform(code, id) {
    const edits = /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/.test(id)
      ? [
          ["resolve(__dirname, '../../../locales')", "resolve(dirname(__dirname), 'locales')"],
          ['mainFilename: mainFilename || process.cwd()', 'mainFilename: __dirname'],
        ]
      : /[\\/]yargs[\\/]build[\\/]lib[\\/]utils[\\/]apply-extends\.js$/.test(id)
        ? [['import.meta.resolve(config.extends)', "require('node:url').pathToFileURL(require.resolve(config.extends)).href"]]
        : null;
    if (!edits) return null;
    for (const [from, to] of edits) {
      if (!code.includes(from)) throw new Error(`bundle: yargs' ${id} no longer contains ${JSON.stringify(from)}; update scripts/bundle.mjs`);
      code = code.replace(from, to);
    }
    return { code, map: null };
  },
};

/**
 * string-width 7 (under cliui and wrap-ansi, which lay out yargs' help) runs Intl.Segmenter and Unicode-property regexes
 * over every word; string-width 8 first returns the length of printable ASCII, which is the same width. Give 7 that same
 * fast path: --help spends most of its rendering there.
 */
const stringWidthAscii = {
  name: 'string-width-ascii-fast-path',
  transform(code, id) {
    if (!/[\\/]string-width[\\/]index\.js$/.test(id) || code.includes('Fast path: printable ASCII')) return null;
    const from = "export default function stringWidth(string, options = {}) {\n\tif (typeof string !== 'string' || string.length === 0) {\n\t\treturn 0;\n\t}\n";
    if (!code.includes(from)) throw new Error(`bundle: ${id} is not the string-width 7 this script knows; update scripts/bundle.mjs`);
    return { code: code.replace(from, from + '\t// Fast path: printable ASCII (as in string-width 8), added by certroll\'s scripts/bundle.mjs.\n\tif (/^[\\u0020-\\u007E]*$/.test(string)) {\n\t\treturn string.length;\n\t}\n'), map: null };
  },
};

/**
 * Work that string-width does when its module is evaluated, for text certroll never measures (every --help word is printable
 * ASCII, answered by the fast path above): `new Intl.Segmenter()` loads ICU's break-iterator data (~15 ms), and string-width
 * 8's `/^\p{RGI_Emoji}$/v` makes V8 build the set of every emoji sequence when the literal is compiled or created (~15 ms).
 * Both are created on first use instead; they are used only through `.segment(s)` and `.test(s)` (no /g or /y: no lastIndex
 * state), so every width is the same. Fails the build when the text changes.
 */
const lazyUnicodeTables = {
  name: 'string-width-lazy-unicode-tables',
  transform(code, id) {
    if (!/[\\/]string-width[\\/]index\.js$/.test(id)) return null;
    const edits = [['const segmenter = new Intl.Segmenter();', 'let segmenterOnUse;\nconst segmenter = { segment: (s) => (segmenterOnUse ??= new Intl.Segmenter()).segment(s) };']];
    if (code.includes('rgiEmojiRegex')) edits.push(['const rgiEmojiRegex = /^\\p{RGI_Emoji}$/v;', "let rgiEmojiRegexOnUse;\nconst rgiEmojiRegex = { test: (s) => (rgiEmojiRegexOnUse ??= new RegExp('^\\\\p{RGI_Emoji}$', 'v')).test(s) };"]);
    for (const [from, to] of edits) {
      if (!code.includes(from)) throw new Error(`bundle: ${id} no longer contains ${JSON.stringify(from)}; update scripts/bundle.mjs`);
      code = code.replace(from, () => to); // a function: `to` holds `$'`
    }
    // Every other mention (comments aside) must be a call of the one method the stand-in has.
    const uncommented = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const [name, method] of [['segmenter', 'segment'], ['rgiEmojiRegex', 'test']]) {
      const all = uncommented.match(new RegExp(`\\b${name}\\b`, 'g'))?.length ?? 0;
      const calls = uncommented.match(new RegExp(`\\b${name}\\.${method}\\(`, 'g'))?.length ?? 0;
      if (all - calls > (uncommented.includes(`const ${name} = `) ? 1 : 0)) throw new Error(`bundle: ${id} uses ${name} other than .${method}(); update scripts/bundle.mjs`);
    }
    return { code, map: null };
  },
};

/**
 * yargs' shim hands it node:assert's notStrictEqual and strictEqual for its argument checks; loading node:assert costs ~7 ms
 * (it is not in Node's start-up snapshot). The same checks, with node:assert loaded only to throw its own error when one fails.
 */
const assertOnFailure = {
  name: 'yargs-assert-on-failure',
  transform(code, id) {
    if (!/[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/.test(id)) return null;
    const from = "import { notStrictEqual, strictEqual } from 'assert'";
    if (!code.includes(from)) throw new Error(`bundle: yargs' ${id} no longer contains ${JSON.stringify(from)}; update scripts/bundle.mjs`);
    const to = 'const notStrictEqual = (actual, expected, message) => { if (Object.is(actual, expected)) require(\'node:assert\').notStrictEqual(actual, expected, message); };\n' +
      'const strictEqual = (actual, expected, message) => { if (!Object.is(actual, expected)) require(\'node:assert\').strictEqual(actual, expected, message); };';
    return { code: code.replace(from, () => to), map: null };
  },
};

/**
 * `import('node:readline')` and the like become `require`: dist/cli/certroll.cjs runs the bundle through vm.Script, where
 * Node 20 has no dynamic import without an experimental flag. Same module, same named exports.
 */
const builtinImportsAsRequire = {
  name: 'builtin-dynamic-import-as-require',
  transform(code, id) {
    if (id.includes('node_modules') || !/\bimport\((['"])node:/.test(code)) return null;
    return { code: code.replace(/\bimport\((['"])(node:[\w/]+)\1\)/g, 'Promise.resolve().then(() => require($1$2$1))'), map: null };
  },
};

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
  cpSync(join(dirname(createRequire(resolve(out, 'bin.js')).resolve('yargs/package.json')), 'locales'), join(out, 'locales'), { recursive: true });
  // `node dist/cli/bin.js` (scripts, tests, docs) runs the same executable.
  writeFileSync(join(out, 'bin.js'), "#!/usr/bin/env node\n// certroll's executable is dist/cli/certroll.cjs (package.json \"bin\"); this path runs it too.\nimport './certroll.cjs';\n");
  rmSync(join(out, 'bin.js.map'), { force: true }); // tsc's map of the unbundled file
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

// The code cache: certroll run as a user would, with scripts/code-cache.cjs writing each script's cache at exit, once per
// command below; each run starts from the caches the previous ones wrote, so the last holds the functions all of them ran.
const work = mkdtempSync(join(tmpdir(), 'certroll-code-cache-'));
try {
  const badInventory = join(work, 'bad-inventory.yaml');
  writeFileSync(badInventory, 'hosts: [\n');
  const runs = [
    [['--help'], 0],
    [['runs'], 0],
    [['plan', '-i', badInventory, join(work, 'playbook.yaml')], 3],
  ];
  for (const [args, code] of runs) {
    const r = spawnSync(process.execPath, ['--require', resolve('scripts/code-cache.cjs'), join(out, 'certroll.cjs'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', CERTROLL_HOME: join(work, 'home') },
    });
    if (r.status !== code) throw new Error(`bundle: certroll ${args.join(' ')} exited ${r.status}, expected ${code}, while recording the code cache:\n${r.stderr}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
