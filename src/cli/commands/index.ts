// Every certroll command, in the order --help lists them.
import { planCommand } from './plan.js';
import { runCommand } from './run.js';
import { runsCommand } from './runs.js';

export const commands = [planCommand, runCommand, runsCommand];
