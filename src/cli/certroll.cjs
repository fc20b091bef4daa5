#!/usr/bin/env node
// The `certroll` executable (package.json "bin"; dist/cli/bin.js imports it), copied to dist/cli/certroll.cjs by
// scripts/bundle.mjs. It runs the CommonJS bundle of the CLI (dist/cli/bundle.cjs, and the chunks in dist/cli/chunks/ when
// they are required) from V8's code cache: each file's `.v8cache` beside it holds the bytecode that `npm run build` recorded
// while running --help, `runs` and input refused at validation, so Node 20 neither parses nor compiles those 250 KB again
// (docs/performance.md, "Start-up"). Node 20 has no compile cache of its own (module.enableCompileCache is 22.1+) and none
// for ES modules, hence CommonJS and vm.Script.
//
// The fallback is plain compilation, with the same result: a file without its .v8cache, a .v8cache made from other source
// (its first 20 bytes are the SHA-1 of the source it was made from), and one that V8 rejects (another Node/V8 version or
// V8 flags: `script.cachedDataRejected`) are all simply compiled. Without dist/cli/bundle.cjs (a build without rolldown)
// it imports tsc's ES module dist/cli/bin.js instead.
//
// Stays CommonJS and one file: an ES module entry would start Node's ESM loader (~7 ms) for nothing.
'use strict';
const Module = require('node:module');
const { existsSync, readFileSync } = require('node:fs');
const { dirname, join, resolve, sep } = require('node:path');
const { Script } = require('node:vm');

const bundle = join(__dirname, 'bundle.cjs');
const chunks = join(__dirname, 'chunks') + sep;

/** The SHA-1 of a file's source: the key a .v8cache must start with to be used for it. */
function sourceKey(source) {
  return require('node:crypto').createHash('sha1').update(source).digest();
}

/**
 * Runs `filename` as the CommonJS module `module` (what Node's own loader does), compiled with its code cache when there is
 * one for this very source. `process.emit('certroll:code-cache', …)` tells a listener (none in normal use: the build's
 * scripts/code-cache.cjs, which writes the caches, and the start-up test, which checks them) which script was compiled
 * how.
 */
function runCached(module, filename) {
  const source = readFileSync(filename, 'utf8');
  const cacheFile = filename + '.v8cache';
  let key;
  let cachedData;
  try {
    key = sourceKey(source);
    const stored = readFileSync(cacheFile);
    if (stored.length > key.length && key.equals(stored.subarray(0, key.length))) cachedData = stored.subarray(key.length);
  } catch {
    // No cache (or no node:crypto): compile.
  }
  // The same function wrapper as Node's CommonJS loader.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) { ${source}\n});`, { filename, cachedData });
  process.emit('certroll:code-cache', { filename, cacheFile, key, script, cache: cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted' });
  script.runInThisContext().call(module.exports, module.exports, requireFor(filename), module, filename, dirname(filename));
}

/**
 * The `require` of the bundle or a chunk: Node's (createRequire), except that the bundle and the chunks themselves
 * (`require("./chunks/x.cjs")`, `require("../bundle.cjs")`: rolldown's relative requires) are loaded by runCached, once
 * each, through require.cache as Node's loader does. Everything else (builtins, ssh2, listr2 …) is Node's business.
 */
function requireFor(filename) {
  const plain = Module.createRequire(filename);
  const ours = (id) => {
    if (typeof id === 'string' && id.endsWith('.cjs') && (id.startsWith('./') || id.startsWith('../'))) {
      const target = resolve(dirname(filename), id);
      if (target === bundle || target.startsWith(chunks)) return load(target);
    }
    return plain(id);
  };
  return Object.assign(ours, { resolve: plain.resolve, cache: plain.cache, main: plain.main, extensions: plain.extensions });
}

/** The exports of the bundle or a chunk, run on first use (a failed load is forgotten, as Node's loader forgets it). */
function load(filename) {
  const cached = require.cache[filename];
  if (cached) return cached.exports;
  const m = new Module(filename, module);
  m.filename = filename;
  require.cache[filename] = m;
  try {
    runCached(m, filename);
  } catch (err) {
    delete require.cache[filename];
    throw err;
  }
  m.loaded = true;
  return m.exports;
}

if (!existsSync(bundle)) import('./bin.js');
else load(bundle);
