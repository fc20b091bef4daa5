// `certroll inventory show`: the resolved inventory (certroll's own or an Ansible one) with where every SSH setting came
// from; `--format yaml` writes it as a certroll inventory; `--explain-ssh HOST` details one host's OpenSSH config resolution.
import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { makeUi, type Ui } from '../common.js';
import { withAnsibleOptions } from '../ansible-options.js';
import { renderTable } from '../../render/text.js';
import { loadAnsibleInventory, parseInventory } from '../../inventory/load.js';
import { looksLikeAnsible } from '../../inventory/ansible.js';
import type { ImportResult } from '../../inventory/ansible-import.js';
import { resolveSshConfig } from '../../inventory/openssh-config.js';
import type { Host, Inventory } from '../../inventory/types.js';
import { heads } from './heads.js';

interface InventoryArgs {
  inventory: string;
  json: boolean;
  color?: boolean;
  format: 'text' | 'yaml' | 'json';
  'explain-ssh'?: string;
  'group-map'?: string;
  overlay?: string;
}

/** `--explain-ssh HOST` on any command that takes -i: how that host's SSH settings were chosen; no host is contacted. */
export function explainSsh(args: { inventory?: unknown; json?: unknown; color?: unknown }, host: string): void {
  if (typeof args.inventory !== 'string') throw new UsageError('--explain-ssh HOST reads the inventory: name it with -i FILE');
  const ui = makeUi({ json: Boolean(args.json), ...(typeof args.color === 'boolean' ? { color: args.color } : {}) } as never);
  const { inventory } = load(args.inventory);
  if (args.json) ui.data(hostJson(inventory.hosts.find((h) => h.name === host || h.address === host) ?? (() => { throw new UsageError(`--explain-ssh: no host "${host}" in ${inventory.file}`); })()));
  else explain(ui, inventory, host);
}

function load(file: string): { inventory: Inventory; imported?: ImportResult; text: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read inventory ${file}: ${(e as Error).message}`);
  }
  if (looksLikeAnsible(text, file)) {
    const r = loadAnsibleInventory(file);
    return { inventory: r.inventory, imported: r.imported, text: r.imported.yaml };
  }
  return { inventory: parseInventory(text, file), text };
}

const SSH_KEYS = ['user', 'port', 'identityFile', 'knownHostsFile', 'become', 'connectTimeout', 'serverAliveInterval', 'identitiesOnly'] as const;

function hostJson(h: Host) {
  return {
    name: h.name,
    address: h.address,
    hostname: h.hostname,
    ...(h.ip ? { ip: h.ip } : {}),
    roles: h.groups,
    ssh: { ...h.ssh, jumps: h.ssh.jumps ?? [] },
    sshFrom: h.sshFrom ?? {},
    vars: h.vars,
    varsAt: h.varsAt ?? {},
    definedAt: h.definedAt,
  };
}

function explain(ui: Ui, inv: Inventory, name: string): void {
  const h = inv.hosts.find((x) => x.name === name || x.address === name);
  if (!h) throw new UsageError(`--explain-ssh: no host "${name}" in ${inv.file} (hosts: ${inv.hosts.map((x) => x.name).join(', ')})`);
  const from = h.sshFrom ?? {};
  ui.say(`${h.name}: connect to ${h.address}${from.address ? `  (${from.address})` : ''}`);
  const rows: Array<{ k: string; v: string; f: string }> = SSH_KEYS.filter((k) => h.ssh[k] !== undefined).map((k) => ({ k, v: String(h.ssh[k]), f: from[k] ?? 'certroll default' }));
  rows.push({ k: 'jump', v: h.ssh.jumps?.map((j) => `${j.user}@${j.address}:${j.port}`).join(' -> ') || 'none (direct)', f: from.jump ?? '-' });
  ui.say(renderTable(rows, [
    { header: 'SETTING', get: (r) => r.k },
    { header: 'VALUE', get: (r) => r.v },
    { header: 'FROM', get: (r) => r.f },
  ]));
  if (!h.ssh.config) {
    ui.say('OpenSSH config: none read (ssh.config: none, or no ~/.ssh/config)');
    return;
  }
  ui.say(`OpenSSH config ${h.ssh.config}, as OpenSSH resolves it for ${name === h.name ? h.name : name} (first value wins; the inventory's own values win over it):`);
  const query = inv.hosts.find((x) => x.name === name) ? (h.sshFrom?.address ? /for (\S+)\)$/.exec(h.sshFrom.address)?.[1] ?? h.address : h.address) : name;
  let user = 'root';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  const r = resolveSshConfig(h.ssh.config, query, { home: homedir(), localUser: user, env: process.env });
  const lines: Array<{ k: string; v: string; at: string }> = [];
  for (const [k, v] of r.values) if (v.at.line > 0) lines.push({ k, v: k === 'proxycommand' ? v.raw : v.args.join(' '), at: `${v.at.file}:${v.at.line}` });
  for (const [k, l] of r.lists) for (const v of l) lines.push({ k, v: v.args.join(' '), at: `${v.at.file}:${v.at.line}` });
  if (lines.length) ui.say(renderTable(lines, [
    { header: 'KEYWORD', get: (x) => x.k },
    { header: 'VALUE', get: (x) => x.v },
    { header: 'AT', get: (x) => x.at },
  ]));
  for (const p of r.problems) ui.say(`${p.level}: ${p.message}${p.at ? ` (${p.at.file}:${p.at.line})` : ''}`);
}

const showCommand: CommandModule<{}, InventoryArgs> = {
  command: 'show',
  describe: 'Print the resolved inventory (certroll or Ansible INI/YAML): hosts, roles, SSH settings and where each came from',
  builder: (y) =>
    withAnsibleOptions(
      y
        .option('inventory', { alias: 'i', type: 'string', demandOption: 'Name the inventory with -i FILE.', describe: 'Inventory: certroll YAML, or Ansible INI/YAML (hosts.ini, hosts.yaml)' })
        .option('json', { type: 'boolean', default: false, describe: 'Machine-readable JSON on stdout (same as --format json)' })
        .option('color', { type: 'boolean', describe: 'Force colours on/off' })
        .option('format', { choices: ['text', 'yaml', 'json'] as const, default: 'text' as const, describe: 'text: table; yaml: a certroll inventory (loads unchanged with -i); json: everything resolved' })
        .option('explain-ssh', { type: 'string', describe: 'Show how one host\'s SSH settings were chosen: inventory, OpenSSH config file:line, defaults' }),
    ) as unknown as Argv<InventoryArgs>,
  handler: (args) => {
    const ui = makeUi(args);
    const { inventory, imported, text } = load(args.inventory);
    const format = args.json ? 'json' : args.format;
    if (format === 'yaml') {
      process.stdout.write(text.endsWith('\n') ? text : text + '\n');
      return;
    }
    if (args['explain-ssh']) {
      if (format === 'json') ui.data(hostJson(inventory.hosts.find((h) => h.name === args['explain-ssh']) ?? (() => { throw new UsageError(`--explain-ssh: no host "${args['explain-ssh']}"`); })()));
      else explain(ui, inventory, args['explain-ssh']);
      return;
    }
    if (format === 'json') {
      ui.data({
        file: inventory.file,
        source: imported ? 'ansible' : 'certroll',
        ...(imported ? { roles: imported.roles, skipped: imported.skipped } : {}),
        groups: inventory.groups,
        vars: inventory.vars,
        hosts: inventory.hosts.map(hostJson),
        warnings: inventory.warnings ?? [],
      });
      return;
    }
    ui.say(`${inventory.file}${imported ? ` (Ansible; roles: ${Object.entries(imported.roles).map(([r, g]) => `${r} <- ${g.join('+')}`).join(', ')})` : ''}`);
    ui.say(renderTable(inventory.hosts, [
      { header: 'HOST', get: (h) => h.name },
      { header: 'ROLES', get: (h) => h.groups.join(',') },
      { header: 'ADDRESS', get: (h) => h.address },
      { header: 'PORT', get: (h) => String(h.ssh.port), align: 'right' },
      { header: 'USER', get: (h) => h.ssh.user + (h.ssh.become ? ' (sudo)' : '') },
      { header: 'VIA', get: (h) => h.ssh.jumps?.map((j) => `${j.user}@${j.address}:${j.port}`).join(' -> ') ?? '-' },
      { header: 'DEFINED AT', get: (h) => `${h.definedAt.file}${h.definedAt.line ? ':' + h.definedAt.line : ''}` },
    ]));
    if (imported?.skipped.length) ui.say(`not in a mapped group (left out): ${imported.skipped.map((s) => `${s.name} [${s.groups.join(',')}]`).join(', ')}`);
    for (const w of inventory.warnings ?? []) ui.say(ui.p.yellow(`warning: ${w}`));
    ui.say(ui.p.dim('Where each SSH setting came from: certroll inventory show -i FILE --explain-ssh HOST'));
  },
};

/** `certroll inventory <action>` (one action today: show). */
export const inventoryCommand: CommandModule = {
  ...heads.inventory,
  builder: (y) => y.command(showCommand as never).demandCommand(1, 'Name an action: certroll inventory show -i FILE'),
  handler: () => undefined,
};
