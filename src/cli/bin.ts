#!/usr/bin/env node
// The `certroll` executable: runs main() and sets the exit code (the only place that does).
import { hideBin } from 'yargs/helpers';
import { main } from './main.js';
import { ignoreOutputErrors, releaseLostTerminal } from './common.js';

// Before anything is written: a closed terminal (EIO) or pipe (EPIPE) must not crash a run.
ignoreOutputErrors();

process.exitCode = await main(hideBin(process.argv));
// A terminal that was hung up while we ran must not turn our exit code into an abort at exit.
releaseLostTerminal();
