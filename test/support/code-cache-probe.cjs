// `node --require test/support/code-cache-probe.cjs dist/cli/certroll.cjs …` with CERTROLL_CODE_CACHE_PROBE=FILE: appends
// to FILE, as a JSON line each, how certroll.cjs compiled every script: { file, cache: 'accepted' | 'rejected' | 'none' }
// (its 'certroll:code-cache' event), and at exit { extensions } (require.extensions' keys: the launcher must leave Node's
// loader as it is, so that listr2's index.cjs and the like load as they would without it). test/unit/cli/startup.test.ts.
'use strict';
const { appendFileSync } = require('node:fs');
const { relative } = require('node:path');

const out = process.env.CERTROLL_CODE_CACHE_PROBE;
if (out) {
  process.on('certroll:code-cache', (e) => appendFileSync(out, JSON.stringify({ file: relative(process.cwd(), e.filename), cache: e.cache }) + '\n'));
  const before = Object.keys(require.extensions).join(' ');
  process.on('exit', () => appendFileSync(out, JSON.stringify({ extensions: Object.keys(require.extensions).join(' '), before }) + '\n'));
}
