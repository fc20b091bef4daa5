// Loads and validates an inventory YAML file into the resolved Inventory (host vars > group vars > inventory vars > defaults).
import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseProxyJump } from './openssh-config.js';
import { applySshConfig, type ExplicitSsh } from './ssh-config-apply.js';
import { looksLikeAnsible } from './ansible.js';
import { importAnsible, mapIssue, type ImportOptions, type ImportResult } from './ansible-import.js';
import { InputError } from '../errors.js';
import { formatPath, parseYaml, type LocatedYaml, type YamlPath } from '../yaml/located.js';
import { readInputFile } from '../yaml/read-input.js';
import {
  absPath,
  bool,
  didYouMean,
  expandTilde,
  hostAddress,
  hostname,
  int,
  ip,
  isHostname,
  isInvalid,
  isIpAddress,
  isMapping,
  listOf,
  object,
  optional,
  sanName,
  sortIssues,
  str,
  unknownKeyMessage,
  ValidationContext,
  withDefault,
  describeValue,
  addressKey,
  quoted,
  type Invalid,
  type Rule,
} from '../yaml/validate.js';
import {
  defaultCheckPaths,
  defaultClusterVars,
  defaultSshSettings,
  type ClusterVars,
  type Host,
  type Inventory,
  type SshSettings,
} from './types.js';

/** Groups every inventory has (possibly empty), in this order; extra groups follow in file order. */
export const standardGroups = ['master', 'etcd', 'flannel', 'manager'] as const;

/** Host and group names: letters, digits, `-`, `_`, `.` (they end up in paths and messages). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const NAME_EXPECTED = "letters, digits, '-', '_' and '.', starting with a letter or digit";

const topLevelKeys = ['vars', 'ssh', 'hosts', 'groups'];

const managerDbShape = {
  host: hostAddress(),
  port: withDefault(int(1, 65535), 3306),
  user: str({ pattern: /^[A-Za-z0-9_.-]+$/, maxLength: 80, expected: "a database user (letters, digits, '_', '.', '-')" }),
  database: str({ pattern: /^[A-Za-z0-9_]+$/, maxLength: 64, expected: "a database name (letters, digits, '_')" }),
  passwordEnv: withDefault(
    str({ pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, expected: "an environment variable name (letters, digits, '_')" }),
    'CERTROLL_DB_PASSWORD',
  ),
};

/** `vars:` at inventory, group and host level: every field optional, missing ones inherited. */
const varsShape = {
  certDir: optional(absPath()),
  manifestsDir: optional(absPath()),
  parkDir: optional(absPath()),
  etcdClientPort: optional(int(1, 65535)),
  etcdPeerPort: optional(int(1, 65535)),
  apiserverPort: optional(int(1, 65535)),
  probeAddress: optional(hostAddress()),
  serviceIp: optional(ip()),
  extraSans: optional(listOf(sanName(), { unique: true })),
  managerTemplateDir: optional(absPath()),
  tosVersion: optional(
    str({ pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/, maxLength: 100, expected: "a version directory name (letters, digits, '.', '_', '-')" }),
  ),
  checkPaths: optional(listOf(absPath({ glob: true }), { unique: true })),
  kubernetesDir: optional(absPath()),
  pkiDir: optional(absPath()),
  kubeletPkiDir: optional(absPath()),
  managerDb: optional(object(managerDbShape)),
  secrets: optional(bool()),
  kubeconfig: optional(absPath()),
  kubectl: optional(absPath()),
};
type VarsOverride = Partial<ClusterVars>;

/** `ssh:` at inventory, group and host level: every field optional. */
const sshShape = {
  user: optional(
    str({ pattern: /^[A-Za-z_][A-Za-z0-9_.-]*$/, maxLength: 32, expected: "a user name (letters, digits, '_', '.', '-')" }),
  ),
  port: optional(int(1, 65535)),
  identityFile: optional(absPath({ tilde: true })),
  knownHostsFile: optional(absPath({ tilde: true })),
  become: optional(bool()),
  connectTimeout: optional(int(1, 3600)),
  commandTimeout: optional(int(1, 86400)),
  /** Bastions: `[user@]host[:port]`, several separated by commas (first hop first), or `none`. */
  jump: optional<string>((v, p, c) =>
    typeof v === 'string' && parseProxyJump(v) ? v : c.fail(p, `expected [user@]host[:port] (several separated by commas) or none, ${describeValue(v)}`),
  ),
  /** OpenSSH client config: a path (relative to the inventory), `none`; default ~/.ssh/config when present. Inventory level only. */
  config: optional(str({ pattern: /^[^\0\r\n]+$/, expected: 'a file path or none' })),
};
type SshOverride = Partial<Omit<SshSettings, 'jumps'>> & { jump?: string };

const varsRule = object(varsShape);
const sshRule = object(sshShape);
const hostRule = object({
  address: hostAddress(),
  hostname: optional(hostname()),
  ip: optional(ip()),
  ssh: optional(sshRule),
  vars: optional(varsRule),
});
type HostSpec = Exclude<ReturnType<typeof hostRule>, Invalid>;

interface GroupSpec {
  hosts: string[];
  vars?: VarsOverride;
  ssh?: SshOverride;
}

export interface ParseOptions {
  /** Home directory used to expand `~` (default: os.homedir()). */
  home?: string;
  /** Environment for `${VAR}` in the OpenSSH config (default: process.env). */
  env?: Record<string, string | undefined>;
}

/** How Ansible inventories are read (`--group-map`, `--overlay`); set once by the CLI for every command. */
export const ansibleImportOptions: ImportOptions = {};

/** Reads, parses and validates an inventory file (certroll's own, or an Ansible INI/YAML one); throws InputError listing every problem. */
export async function loadInventory(file: string, opts: ParseOptions = {}): Promise<Inventory> {
  const text = await readInputFile(file, 'inventory', 'Invalid inventory:');
  if (looksLikeAnsible(text, file)) return loadAnsibleInventory(file, opts).inventory;
  return parseInventory(text, file, opts);
}

/** An Ansible inventory converted (src/inventory/ansible-import.ts) and loaded as a certroll inventory; issues point at the Ansible files. */
export function loadAnsibleInventory(file: string, opts: ParseOptions = {}, importOpts: ImportOptions = ansibleImportOptions): { inventory: Inventory; imported: ImportResult } {
  const imported = importAnsible(file, { ...importOpts, ...(opts.home ? { home: opts.home } : {}) });
  let inventory: Inventory;
  try {
    inventory = parseInventory(imported.yaml, file, opts);
  } catch (e) {
    if (e instanceof InputError) throw new InputError(e.issues.map((i) => (i.file === file ? mapIssue(i, imported.origins) : i)), 'Invalid inventory (converted from Ansible):');
    throw e;
  }
  // Where each SSH setting came from: the Ansible variable and its file:line, not the converted text.
  for (const h of inventory.hosts) {
    const at = imported.origins.get(`hosts.${h.name}`);
    if (at) h.definedAt = { file: at.file, ...(at.line ? { line: at.line } : {}) };
    for (const [k, v] of Object.entries(h.sshFrom ?? {})) {
      const o = imported.origins.get(`hosts.${h.name}.ssh.${k}`);
      // Only values the converted inventory itself set (not ones the OpenSSH config supplied) have an Ansible origin.
      if (o && v.endsWith(`(${file}:${v.split(':').pop()}`)) h.sshFrom![k] = `${o.what} (${o.file}${o.line ? ':' + o.line : ''})`;
    }
    for (const j of h.ssh.jumps ?? []) if (h.sshFrom?.jump) j.from = h.sshFrom.jump;
  }
  inventory.warnings = [...imported.warnings, ...(inventory.warnings ?? [])];
  return { inventory, imported };
}

/** Parses and validates inventory text; `file` names it in messages. Pure apart from `os.homedir()` when no home is given. */
export function parseInventory(text: string, file: string, opts: ParseOptions = {}): Inventory {
  const parsed = parseYaml(text, file);
  if (!parsed.doc) throw new InputError(parsed.issues, 'Invalid inventory:');
  const ctx = new ValidationContext(parsed.doc);
  ctx.issues.push(...parsed.issues);
  const inv = resolveInventory(parsed.doc, ctx, opts.home ?? homedir(), opts.env ?? process.env);
  if (!ctx.ok || !inv) throw new InputError(sortIssues(ctx.issues), 'Invalid inventory:');
  return inv;
}

const setsCheckPaths = (v: unknown) => typeof v === 'object' && v !== null && 'checkPaths' in v;

function nameProblem(kind: 'host' | 'group', name: string): string | undefined {
  if (!NAME.test(name) || name.length > 253) return `invalid ${kind} name ${quoted(name)}: expected ${NAME_EXPECTED}`;
  if (name === 'all') return `the ${kind} name "all" is reserved (in --limit it means every host)`;
  return undefined;
}

function resolveInventory(doc: LocatedYaml, ctx: ValidationContext, home: string, env: Record<string, string | undefined>): Inventory | undefined {
  const root = doc.value;
  if (!isMapping(root)) {
    ctx.fail([], `expected a mapping with hosts: and groups: (and optionally vars: and ssh:), got ${describeValue(root)}`);
    return undefined;
  }
  for (const k of Object.keys(root)) if (!topLevelKeys.includes(k)) ctx.fail([k], unknownKeyMessage(k, topLevelKeys), true);

  // Inventory-level defaults.
  const invVars = optional(varsRule)(root.vars, ['vars'], ctx);
  const invSsh = optional(sshRule)(root.ssh, ['ssh'], ctx);

  // Hosts, each validated on its own so that one bad host does not hide the others' problems.
  const hostSpecs = new Map<string, HostSpec>();
  const definedNames: string[] = [];
  if (root.hosts === undefined) {
    ctx.fail([], 'missing required field "hosts" (name → { address: … })', true);
  } else if (!isMapping(root.hosts) || Object.keys(root.hosts).length === 0) {
    const what = isMapping(root.hosts) ? 'an empty mapping' : describeValue(root.hosts);
    ctx.fail(['hosts'], `expected a mapping of host name → { address: … } with at least one host, got ${what}`);
  } else {
    for (const [name, spec] of Object.entries(root.hosts)) {
      definedNames.push(name);
      const problem = nameProblem('host', name);
      if (problem) ctx.fail(['hosts', name], problem, true);
      const r = hostRule(spec, ['hosts', name], ctx);
      if (!isInvalid(r) && !problem) hostSpecs.set(name, r as HostSpec);
    }
  }
  const defined = new Set(definedNames);

  // Groups.
  const groupSpecs = new Map<string, GroupSpec>();
  const groupNames: string[] = [];
  if (root.groups === undefined) {
    ctx.fail([], 'missing required field "groups" (at least master: [host, …])', true);
  } else if (!isMapping(root.groups)) {
    ctx.fail(['groups'], `expected a mapping of group name → list of hosts, got ${describeValue(root.groups)}`);
  } else {
    const rawGroups = root.groups;
    groupNames.push(...Object.keys(rawGroups));
    for (const [name, raw] of Object.entries(rawGroups)) {
      const path = ['groups', name];
      let problem = nameProblem('group', name);
      if (!problem && defined.has(name))
        problem = `group ${quoted(name)} has the same name as a host; rename one of them (--limit would be ambiguous)`;
      if (problem) ctx.fail(path, problem, true);
      const g = groupRule(name, raw, path, ctx, defined, groupNames);
      if (g && !problem) groupSpecs.set(name, g);
    }
    if (!Object.hasOwn(rawGroups, 'master') && !Object.hasOwn(rawGroups, 'control-plane'))
      ctx.fail(['groups'], 'missing required group "master" (or "control-plane", kubeadm\'s name for it: its first host is where certificates are generated)', true);
  }

  if (!ctx.ok || isInvalid(invVars) || isInvalid(invSsh)) return undefined;

  // Resolve group membership: standard groups first, then extras in file order; etcd defaults to master.
  const order = [...standardGroups, ...groupNames.filter((g) => !(standardGroups as readonly string[]).includes(g))];
  const groups: Record<string, string[]> = {};
  for (const g of order) groups[g] = groupSpecs.get(g)?.hosts ?? [];
  // kubeadm names the masters `control-plane`: without a `master` group, it is the master group.
  if (!groupSpecs.has('master') && groupSpecs.has('control-plane')) groups.master = [...groups['control-plane']!];
  if (!groupSpecs.has('etcd')) groups.etcd = [...groups.master!];

  const baseVars: ClusterVars = { ...defaultClusterVars, ...(invVars ?? {}) };
  if (!setsCheckPaths(invVars)) baseVars.checkPaths = defaultCheckPaths(baseVars);
  const baseSsh = { ...defaultSshSettings, ...(invSsh ?? {}) } as SshSettings;

  const hosts: Host[] = [];
  const explicitSsh = new Map<string, ExplicitSsh>();
  let groupSource: Record<string, string> = {};
  for (const [name, spec] of hostSpecs) {
    const memberOf = order.filter((g) => groups[g]!.includes(name));
    const fromGroups = (section: 'vars' | 'ssh'): Record<string, unknown> => {
      const merged: Record<string, unknown> = {};
      const source: Record<string, string> = {};
      if (section === 'vars') groupSource = source;
      const own = (spec[section] ?? {}) as Record<string, unknown>;
      for (const g of memberOf) {
        const over = (groupSpecs.get(g)?.[section] ?? {}) as Record<string, unknown>;
        for (const [k, v] of Object.entries(over)) {
          if (k in source && JSON.stringify(merged[k]) !== JSON.stringify(v) && !(k in own)) {
            ctx.fail(
              ['groups', g, section, k],
              `host "${name}" is in groups "${source[k]}" and "${g}", which set different ${section}.${k} ` +
                `(${JSON.stringify(merged[k])} vs ${JSON.stringify(v)}); set it under hosts.${name}.${section} to choose`,
            );
          }
          merged[k] = v;
          source[k] ??= g;
        }
      }
      return merged;
    };
    // Deep copies: hosts must not share arrays/objects, so one host's edits can never leak into another's.
    const groupVars = fromGroups('vars');
    const vars = structuredClone({ ...baseVars, ...groupVars, ...(spec.vars ?? {}) }) as ClusterVars;
    // checkPaths not set anywhere: the globs follow the host's own directories (certDir, pkiDir, kubeletPkiDir, kubernetesDir).
    if (!setsCheckPaths(invVars) && !('checkPaths' in groupVars) && !setsCheckPaths(spec.vars)) vars.checkPaths = defaultCheckPaths(vars);
    const groupSsh = fromGroups('ssh');
    const ssh = { ...baseSsh, ...groupSsh, ...(spec.ssh ?? {}) } as SshSettings & { jump?: string };
    // Which SSH settings the inventory itself set, and where (they win over the OpenSSH config).
    const explicit: ExplicitSsh = {};
    for (const k of Object.keys(ssh) as Array<keyof ExplicitSsh>) {
      const path: YamlPath | undefined =
        spec.ssh && k in spec.ssh ? ['hosts', name, 'ssh', k] : k in groupSsh ? ['groups', memberOf.find((g) => groupSpecs.get(g)?.ssh && k in groupSpecs.get(g)!.ssh!)!, 'ssh', k] : invSsh && k in invSsh ? ['ssh', k] : undefined;
      if (path) explicit[k] = `${formatPath(path)} (${doc.file}:${doc.at(path)?.line ?? '?'})`;
      if (k === 'config' && path && path[0] !== 'ssh') ctx.fail(path, 'ssh.config can only be set at the inventory level (top-level ssh:)');
    }
    explicitSsh.set(name, explicit);
    if (typeof ssh.jump === 'string') ssh.jumpSpec = ssh.jump.toLowerCase() === 'none' ? '' : ssh.jump;
    delete ssh.jump;
    ssh.knownHostsFile = expandTilde(ssh.knownHostsFile, home);
    if (ssh.identityFile !== undefined) ssh.identityFile = expandTilde(ssh.identityFile, home);

    const hostName = spec.hostname ?? name;
    if (memberOf.includes('etcd') && spec.hostname === undefined && !isHostname(name))
      ctx.fail(
        ['hosts', name],
        `host name "${name}" is not a valid DNS hostname for the etcd certificate's SANs; add hostname: <dns name>`,
        true,
      );
    const pos = doc.keyAt(['hosts', name]);
    // Where each variable of this host was set: its own vars, a group's, the inventory's (absent: a default).
    const varsAt: NonNullable<Host['varsAt']> = {};
    for (const k of Object.keys(vars) as Array<keyof ClusterVars>) {
      const path: YamlPath | undefined =
        spec.vars && k in spec.vars ? ['hosts', name, 'vars', k] : groupSource[k] ? ['groups', groupSource[k]!, 'vars', k] : invVars && k in invVars ? ['vars', k] : undefined;
      if (path) varsAt[k] = { path: formatPath(path), line: doc.at(path)?.line };
    }
    const sshFrom: Record<string, string> = {};
    for (const [k, v] of Object.entries(explicit)) sshFrom[k] = v;
    hosts.push({
      name,
      sshFrom,
      address: spec.address,
      hostname: hostName,
      ip: spec.ip ?? (isIpAddress(spec.address) ? spec.address : undefined),
      groups: memberOf,
      ssh,
      vars,
      definedAt: { file: doc.file, line: pos?.line },
      varsAt,
    });
  }
  // The OpenSSH client config under the inventory's own values (inventory wins), and the bastions of each host.
  const sshConfig = isInvalid(invSsh) ? undefined : invSsh?.config;
  const configFile =
    sshConfig === undefined
      ? existsSync(join(home, '.ssh', 'config')) ? join(home, '.ssh', 'config') : undefined
      : sshConfig.toLowerCase() === 'none' ? undefined : resolve(dirname(doc.file), expandTilde(sshConfig, home));
  if (configFile && sshConfig !== undefined && !existsSync(configFile)) ctx.fail(['ssh', 'config'], `OpenSSH config file ${configFile} does not exist (set none to read no config)`);
  let warnings: string[] = [];
  if (ctx.ok) {
    const applied = applySshConfig(hosts, explicitSsh, {
      file: configFile,
      home,
      env,
      localUser: safeUserName(),
      setAt: sshConfig === undefined ? 'default ~/.ssh/config' : `ssh.config (${doc.file}:${doc.at(['ssh', 'config'])?.line ?? '?'})`,
    });
    ctx.issues.push(...applied.issues);
    warnings = applied.warnings;
    for (const h of hosts) {
      if (configFile) h.ssh.config = configFile;
      else delete h.ssh.config;
    }
  }
  if (!ctx.ok) return undefined;
  // Two entries reaching the same sshd would be backed up, renewed and restarted as if they were two machines.
  const byEndpoint = new Map<string, Host>();
  for (const h of hosts) {
    const endpoint = `${addressKey(h.address)} port ${h.ssh.port}`;
    const first = byEndpoint.get(endpoint);
    if (first)
      ctx.fail(
        ['hosts', h.name, 'address'],
        `${h.address}${h.address === first.address ? '' : ` (= ${first.address})`} port ${h.ssh.port} is also host "${first.name}" (line ${first.definedAt.line}); each host must be a different machine`,
      );
    else byEndpoint.set(endpoint, h);
  }
  if (!ctx.ok) return undefined;

  const inventory: Inventory = {
    file: resolve(doc.file),
    hosts,
    groups,
    vars: baseVars,
    firstMaster: groups.master![0]!,
    ...(warnings.length ? { warnings } : {}),
  };
  // Lines for checks made later against the playbook (not enumerable: the inventory stays plain data).
  Object.defineProperty(inventory, 'lineOf', { value: (path: YamlPath) => doc.at(path)?.line, enumerable: false });
  return inventory;
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'root';
  }
}

/** A group is a list of hosts, or `{ hosts: [...], vars: {...}, ssh: {...} }`; null means no hosts. */
function groupRule(
  name: string,
  raw: unknown,
  path: YamlPath,
  ctx: ValidationContext,
  defined: Set<string>,
  groupNames: string[],
): GroupSpec | undefined {
  const member: Rule<string> = (v, p, c) => {
    if (typeof v !== 'string' || !NAME.test(v))
      return c.fail(p, `expected a host name (${NAME_EXPECTED}), got ${describeValue(v)}`);
    if (!defined.has(v)) {
      if (groupNames.includes(v))
        return c.fail(p, `"${v}" is a group; groups cannot contain groups, list its hosts instead`);
      return c.fail(p, `host "${v}" is not defined under hosts:${didYouMean(v, defined)}`);
    }
    return v;
  };
  const min = name === 'master' || name === 'control-plane' ? 1 : 0;
  const hostsRule = listOf(member, {
    unique: true,
    minItems: min,
    itemName: min ? 'host (the first master is where certificates are generated)' : 'host',
  });
  if (raw === null || raw === undefined) {
    if (min > 0) ctx.fail(path, 'expected at least 1 host (the first master is where certificates are generated), got nothing');
    return min > 0 ? undefined : { hosts: [] };
  }
  if (Array.isArray(raw)) {
    const hosts = hostsRule(raw, path, ctx);
    return isInvalid(hosts) ? undefined : { hosts };
  }
  if (isMapping(raw)) {
    const r = object({ hosts: hostsRule, vars: optional(varsRule), ssh: optional(sshRule) })(raw, path, ctx);
    if (isInvalid(r)) return undefined;
    return { hosts: r.hosts, vars: r.vars, ssh: r.ssh };
  }
  ctx.fail(path, `expected a list of host names or a mapping with hosts:, got ${describeValue(raw)}`);
  return undefined;
}
