// The inputs of a run, a plan, a status or a rollback: the inventory and the playbook, loaded and cross-checked together,
// every issue at once, before any connection; and which secrets the inputs name that the environment does not hold.
import { loadInventory } from '../inventory/load.js';
import type { Inventory, ManagerDb } from '../inventory/types.js';
import { warnAboutInventory } from '../inventory/warnings.js';
import { loadPlaybook } from '../playbook/load.js';
import { checkAgainstInventory } from '../playbook/against-inventory.js';
import type { Playbook } from '../playbook/types.js';
import { InputError, type InputIssue } from '../errors.js';

export interface Inputs {
  inventory: Inventory;
  playbook: Playbook;
}

/** Load and cross-check the inventory and the playbook (src/playbook/against-inventory.ts). All issues at once, before any connection. */
export async function loadInputs(inventoryFile: string, playbookFile: string): Promise<Inputs> {
  const results = await Promise.allSettled([loadInventory(inventoryFile), loadPlaybook(playbookFile)]);
  const issues: InputIssue[] = results.flatMap((r) => (r.status === 'rejected' ? (r.reason instanceof InputError ? r.reason.issues : (() => { throw r.reason; })()) : []));
  if (issues.length) throw new InputError(issues);
  const inventory = warnAboutInventory((results[0] as PromiseFulfilledResult<Inventory>).value);
  const playbook = (results[1] as PromiseFulfilledResult<Playbook>).value;
  issues.push(...checkAgainstInventory(inventory, playbook));
  if (issues.length) throw new InputError(issues);
  return { inventory, playbook };
}

/**
 * The Manager database whose password the run needs and the environment lacks (the playbook has a manager-db step, the
 * inventory names the variable, and it is unset or empty): the CLI asks for it on a terminal and passes it in.
 */
export function missingManagerDbPassword(inputs: Inputs, env: NodeJS.ProcessEnv): ManagerDb | undefined {
  const db = inputs.inventory.vars.managerDb;
  if (!db || env[db.passwordEnv] || !inputs.playbook.steps.some((s) => s.type === 'manager-db')) return undefined;
  return db;
}
