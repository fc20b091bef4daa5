// Every certroll command, in the order --help lists them.
import { planCommand } from './plan.js';
import { runCommand } from './run.js';
import { runsCommand } from './runs.js';
import { rollbackCommand } from './rollback.js';
import { backupsCommand } from './backups.js';

export const commands = [planCommand, runCommand, runsCommand, rollbackCommand, backupsCommand];
