#!/usr/bin/env node
// The CLI's entry: runs main() and sets the exit code (the only place that does). Bundled into dist/cli/bundle.cjs, which
// the `certroll` executable (src/cli/certroll.cjs) runs; without the bundle, tsc's dist/cli/bin.js is the executable.
import { hideBin } from 'yargs/helpers';
import { main } from './main.js';
import { ignoreOutputErrors, releaseLostTerminal } from './common.js';

// Before anything is written: a closed terminal (EIO) or pipe (EPIPE) must not crash a run.
ignoreOutputErrors();

// No top-level await (the bundle is CommonJS), with its exit code kept: a main() that never settles because nothing is
// left to wait for ends the process with 13, as an unsettled top-level await does (unless an exit code was already set).
let settled = false;
process.on('exit', () => {
  if (!settled) process.exitCode ??= 13;
});
void main(hideBin(process.argv)).then((code) => {
  settled = true;
  process.exitCode = code;
  // A terminal that was hung up while we ran must not turn our exit code into an abort at exit.
  releaseLostTerminal();
});
