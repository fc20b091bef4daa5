#!/usr/bin/env node
// The `certroll` executable: runs main() and sets the exit code (the only place that does).
import { hideBin } from 'yargs/helpers';
import { main } from './main.js';

process.exitCode = await main(hideBin(process.argv));
