#!/usr/bin/env node
// `npm test`: the unit tests (test/unit, no lab) and the end-to-end tests (test/e2e, one file at a time on the shared lab)
// run as two vitest processes side by side: the e2e files mostly wait on the lab (pauses, etcd restarts) while the unit
// files use the second core. Each output line is prefixed with its half; the exit code is non-zero when either fails.
// With arguments (`npm test -- test/unit/pki`), one plain `vitest run ARGS…` instead.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const vitest = (args, prefix, niceness = 0) =>
  new Promise((resolve) => {
    const argv = [process.execPath, 'node_modules/vitest/vitest.mjs', 'run', ...args];
    // The e2e half is the longer one (it waits on the lab); the unit half runs at a lower priority so it never slows it.
    if (niceness) argv.unshift('nice', '-n', String(niceness));
    const child = spawn(argv[0], argv.slice(1), { stdio: prefix ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    if (prefix) {
      for (const [from, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
        createInterface({ input: from }).on('line', (line) => to.write(`${prefix} ${line}\n`));
      }
    }
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });

const args = process.argv.slice(2);
if (args.length) process.exit(await vitest(args));
const started = Date.now();
const [unit, e2e] = await Promise.all([vitest(['test/unit'], '[unit]', 10), vitest(['test/e2e'], '[e2e] ')]);
process.stdout.write(`\nnpm test: unit ${unit === 0 ? 'passed' : `FAILED (exit ${unit})`}, e2e ${e2e === 0 ? 'passed' : `FAILED (exit ${e2e})`}, ${((Date.now() - started) / 1000).toFixed(0)} s wall\n`);
process.exit(unit || e2e);
