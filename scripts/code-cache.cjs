// `node --require scripts/code-cache.cjs dist/cli/certroll.cjs ARGS…` (scripts/bundle.mjs, at build time): writes, when the
// process exits, the V8 code cache of every script certroll.cjs compiled (the bundle and the chunks it required) to the
// file certroll.cjs will read it from: the SHA-1 of the source (certroll.cjs's key), then script.createCachedData(). Made
// at exit, the cache holds every function the command ran, not only the top level.
'use strict';
const { writeFileSync } = require('node:fs');

const scripts = [];
process.on('certroll:code-cache', (s) => scripts.push(s));
process.on('exit', () => {
  for (const { cacheFile, key, script } of scripts) writeFileSync(cacheFile, Buffer.concat([key, script.createCachedData()]));
});
