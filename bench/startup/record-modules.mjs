// `node --import ./bench/startup/record-modules.mjs …` with CERTROLL_RECORD_MODULES=FILE: appends to FILE every module file
// the process loads, one file: URL a line (ES modules through a load hook, CommonJS ones from require's cache at exit, where
// `lazyRequire` puts ssh2 and node-forge). Used by bench/startup and test/unit/cli/startup.test.ts; costs time, so the
// benchmark records modules in runs of their own, never in the timed ones.
import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const out = process.env.CERTROLL_RECORD_MODULES;
if (out) {
  const hook = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  const r = await next(url, context);
  if (url.startsWith('file:')) appendFileSync(${JSON.stringify(out)}, url + '\\n');
  return r;
}`;
  register('data:text/javascript,' + encodeURIComponent(hook));
  const cache = createRequire(import.meta.url).cache;
  process.on('exit', () => appendFileSync(out, Object.keys(cache).map((f) => pathToFileURL(f).href + '\n').join('')));
}
