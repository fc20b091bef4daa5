// The inventory's warnings (OpenSSH config keywords or Ansible variables certroll does not apply), printed once per loaded
// inventory on stderr: stdout stays for data.
import type { Inventory } from './types.js';
const warned = new WeakSet<Inventory>();

/** Print the inventory's warnings on stderr (once per loaded inventory); stdout stays for data. */
export function warnAboutInventory(inventory: Inventory): Inventory {
  if (warned.has(inventory)) return inventory;
  warned.add(inventory);
  for (const w of inventory.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
  return inventory;
}
