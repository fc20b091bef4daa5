// The rolldown plugins of scripts/bundle.mjs: edits to yargs and string-width that keep their behaviour and remove start-up
// work (docs/performance.md, "Start-up"). Each fails the build when the text it edits changes. Also imported by
// test/unit/cli/startup.test.ts (string widths with and without the edits).

/**
 * yargs' ESM shim finds its locale files and the program's package.json (for --version) from its own file's URL; in the
 * bundle that URL is dist/cli/bundle.cjs's. The locales are copied beside the bundle (dist/cli/locales/: the bundled yargs'
 * own, found without resolving a package at every start), and the package.json lookup starts at the bundle (whose nearest
 * package.json is certroll's). apply-extends' `import.meta.resolve` (a yargs config's `extends: 'package'`, which certroll
 * never passes) becomes require.resolve, as CommonJS has no import.meta. Fails the build when yargs' text changes.
 */
export const yargsShim = {
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
export const stringWidthAscii = {
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
export const lazyUnicodeTables = {
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
export const assertOnFailure = {
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
export const builtinImportsAsRequire = {
  name: 'builtin-dynamic-import-as-require',
  transform(code, id) {
    if (id.includes('node_modules') || !/\bimport\((['"])node:/.test(code)) return null;
    return { code: code.replace(/\bimport\((['"])(node:[\w/]+)\1\)/g, 'Promise.resolve().then(() => require($1$2$1))'), map: null };
  },
};
