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

const tmp = mkdtempSync(join(tmpdir(), 'certroll-bundle-'));
try {
  await rolldown.build({
    input: join(out, 'bin.js'),
    platform: 'node',
    // Everything from node_modules except the CommonJS packages certroll requires lazily (never reached through an import).
    external: ['ssh2', 'node-forge', 'cpu-features'],
    plugins: [yargsShim, stringWidthAscii],
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
