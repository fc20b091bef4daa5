// Bundles the compiled CLI (dist/cli/bin.js and everything it imports, yargs and the other ESM dependencies included) into
// dist/cli/bin.js plus one chunk per lazily imported part in dist/cli/chunks/. Why (docs/performance.md, "Start-up"): Node 20
// loads an ES module graph file by file, and yargs alone is ~60 files; one bundle cuts the CPU of `certroll --help` and of
// input refused at validation by a third. The dynamic imports stay dynamic (a command's module, the SSH layer, listr2 are
// separate chunks, loaded when needed); the CommonJS packages ssh2 and node-forge stay in node_modules (lazyRequire).
//
// Runs after `tsc -p tsconfig.json` (npm run build). Without rolldown (a dependency of vitest's vite, so present in every
// dev install) it leaves tsc's output as it is: the CLI works the same, only its start-up is slower.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const out = 'dist/cli';
let rolldown;
try {
  rolldown = await import('rolldown');
} catch {
  console.error('bundle: rolldown is not installed; dist/cli/bin.js stays unbundled (slower start-up)');
  process.exit(0);
}

/**
 * yargs' ESM shim finds its locale files and the program's package.json (for --version) from its own file's URL; in the
 * bundle that URL is dist/cli/bin.js. Point the locales at the installed yargs package, and the package.json lookup at the
 * bundle (whose nearest package.json is certroll's). Fails the build when yargs' text changes, rather than losing them.
 */
const yargsShim = {
  name: 'yargs-esm-shim-paths',
  transform(code, id) {
    if (!/[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/.test(id)) return null;
    const edits = [
      ["resolve(__dirname, '../../../locales')", "resolve(dirname(require.resolve('yargs/package.json')), 'locales')"],
      ['mainFilename: mainFilename || process.cwd()', 'mainFilename: __dirname'],
    ];
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

const tmp = mkdtempSync(join(tmpdir(), 'certroll-bundle-'));
try {
  await rolldown.build({
    input: join(out, 'bin.js'),
    platform: 'node',
    // Everything from node_modules except the CommonJS packages certroll requires lazily (never reached through an import).
    external: ['ssh2', 'node-forge', 'cpu-features'],
    plugins: [yargsShim, stringWidthAscii, lazyUnicodeTables, assertOnFailure],
    logLevel: 'warn',
    // chunks/ is as deep as dist/cli/commands/, so a command module's `new URL('../../../…', import.meta.url)` (status.ts:
    // the shipped playbook) still points at the package root; the entry stays where tsc put bin.js.
    output: { dir: tmp, format: 'esm', entryFileNames: 'bin.js', chunkFileNames: 'chunks/[name]-[hash].js' },
  });
  if (!readFileSync(join(tmp, 'bin.js'), 'utf8').startsWith('#!/usr/bin/env node\n')) throw new Error('bundle: the entry lost its #! line');
  rmSync(join(out, 'chunks'), { recursive: true, force: true });
  if (existsSync(join(tmp, 'chunks'))) cpSync(join(tmp, 'chunks'), join(out, 'chunks'), { recursive: true });
  cpSync(join(tmp, 'bin.js'), join(out, 'bin.js'));
  rmSync(join(out, 'bin.js.map'), { force: true }); // tsc's map of the unbundled file
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
