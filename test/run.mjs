#!/usr/bin/env node
// `npm test`: the unit tests (test/unit, no lab), the end-to-end tests on the TOS lab (test/e2e, one file at a time) and those
// on the kubeadm lab (test/e2e-kubeadm, one file at a time, its own lab on its own addresses) run as vitest processes in two
// lanes side by side: TOS e2e in one, unit then kubeadm e2e in the other; the e2e files mostly wait on their lab (pauses,
// etcd restarts) while the unit files use the spare CPU. Each
// output line is prefixed with its lane; the exit code is non-zero when any fails. (The directories are given with a
// trailing slash: vitest filters by substring, and "test/e2e" would also pick the files of test/e2e-kubeadm.)
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
// Two lanes at a time on a 2-core machine: the TOS e2e lane (the longest) beside the unit tests, then the kubeadm lab's e2e
// files once the unit tests are done (three lanes at once slowed the TOS lane's runs past their test timeouts).
let unit = 1, kadm = 1;
const [, e2e] = await Promise.all([
  (async () => {
    unit = await vitest(['test/unit/'], '[unit]', 10);
    kadm = await vitest(['test/e2e-kubeadm/'], '[kadm]');
  })(),
  vitest(['test/e2e/'], '[e2e] '),
]);
const verdict = (code) => (code === 0 ? 'passed' : `FAILED (exit ${code})`);
process.stdout.write(`\nnpm test: unit ${verdict(unit)}, e2e ${verdict(e2e)}, kadm ${verdict(kadm)}, ${((Date.now() - started) / 1000).toFixed(0)} s wall\n`);
process.exit(unit || e2e || kadm);
