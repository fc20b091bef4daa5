// Every certroll command, in the order --help lists them.
import { checkCommand } from './check.js';
import { planCommand } from './plan.js';
import { runCommand } from './run.js';
import { runsCommand } from './runs.js';
import { rollbackCommand } from './rollback.js';
import { backupsCommand } from './backups.js';
import { inventoryCommand } from './inventory.js';
import { statusCommand } from './status.js';

export const commands = [checkCommand, planCommand, runCommand, statusCommand, runsCommand, rollbackCommand, backupsCommand, inventoryCommand];
