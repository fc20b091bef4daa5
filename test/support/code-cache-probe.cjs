// `node --require test/support/code-cache-probe.cjs dist/cli/certroll.cjs …` with CERTROLL_CODE_CACHE_PROBE=FILE: appends
// to FILE, as a JSON line each, how certroll.cjs compiled every script: { file, cache: 'accepted' | 'rejected' | 'none' }
// (its 'certroll:code-cache' event). test/unit/cli/startup.test.ts.
'use strict';
const { appendFileSync } = require('node:fs');
const { relative } = require('node:path');

const out = process.env.CERTROLL_CODE_CACHE_PROBE;
if (out) process.on('certroll:code-cache', (e) => appendFileSync(out, JSON.stringify({ file: relative(process.cwd(), e.filename), cache: e.cache }) + '\n'));
