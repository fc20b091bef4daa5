// Turns an Ansible inventory into a certroll inventory: group names map to certroll's roles (kubespray, kubeasz,
// openshift, k3s conventions or --group-map), ansible_* connection variables to `ssh:`, ProxyJump / -J / `ssh -W`
// ProxyCommands and kubespray's [bastion] group to `ssh.jump`; cluster variables come from an optional overlay file.
// The result is written as certroll inventory YAML and loaded by the ordinary loader, so `--format yaml` round-trips.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { relative } from 'node:path';
import { dump } from 'js-yaml';
import { InputError, type InputIssue } from '../errors.js';
import { parseYaml } from '../yaml/located.js';
import { AnsibleParseError, groupsOf, hostVars, parseAnsibleInventory, shlexSplit, type AnsibleInventory, type Origin } from './ansible.js';

/** certroll's roles and the Ansible group names that mean them, in order of preference. */
export const roleConventions: Record<string, string[]> = {
  master: ['kube_control_plane', 'kube-master', 'kube_master', 'masters', 'master', 'server', 'control_plane'],
  etcd: ['etcd'],
  flannel: [],
  manager: [],
};

export interface ImportOptions {
  /** role → Ansible group(s) (`--group-map master=GROUP,etcd=GROUP`). */
  groupMap?: Record<string, string[]>;
  /** certroll overlay file: cluster vars, ssh defaults, group map, per-host additions (docs/fleets.md). */
  overlay?: string;
  home?: string;
}

/** Parse `master=kube_control_plane,etcd=etcd,flannel=kube_node+calico_rr`. */
export function parseGroupMap(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z]+)=([^=]+)$/.exec(part);
    if (!m || !(m[1]! in roleConventions)) throw new Error(`--group-map: expected ROLE=GROUP (ROLE one of ${Object.keys(roleConventions).join(', ')}), got ${JSON.stringify(part)}`);
    (out[m[1]!] ??= []).push(...m[2]!.split('+').map((s) => s.trim()));
  }
  return out;
}

export interface ImportResult {
  /** The certroll inventory YAML (what `inventory show --format yaml` prints). */
  yaml: string;
  /** Hosts of the Ansible inventory left out (in no mapped group), with their groups. */
  skipped: Array<{ name: string; groups: string[] }>;
  /** role → Ansible groups used. */
  roles: Record<string, string[]>;
  warnings: string[];
  /** certroll inventory path (e.g. `hosts.node1.ssh.port`) → where it came from in the Ansible files. */
  origins: Map<string, Origin & { what: string }>;
}

interface Overlay {
  vars?: Record<string, unknown>;
  ssh?: Record<string, unknown>;
  groupMap?: Record<string, string | string[]>;
  hosts?: Record<string, Record<string, unknown>>;
}

function readOverlay(file: string): Overlay {
  const text = readFileSync(file, 'utf8');
  const parsed = parseYaml(text, file);
  if (!parsed.doc) throw new InputError(parsed.issues, 'Invalid overlay:');
  const v = parsed.doc.value;
  if (v === null) return {};
  const allowed = ['vars', 'ssh', 'groupMap', 'hosts'];
  const issues: InputIssue[] = [];
  if (typeof v !== 'object' || Array.isArray(v)) issues.push(parsed.doc.issue([], 'expected a mapping with vars:, ssh:, groupMap: or hosts:'));
  else for (const k of Object.keys(v)) if (!allowed.includes(k)) issues.push(parsed.doc.issue([k], `unknown key "${k}" (an overlay has ${allowed.join(', ')})`, true));
  if (issues.length) throw new InputError(issues, 'Invalid overlay:');
  return v as Overlay;
}

const truthy = (v: unknown) => v === true || (typeof v === 'string' && ['true', 'yes', 'on', '1'].includes(v.toLowerCase())) || v === 1;

/** Bastion from ssh arguments: `-J hop`, `-o ProxyJump=hop`, `-o ProxyCommand="ssh … -W %h:%p [user@]hop"`. */
export function jumpFromSshArgs(args: string): { jump?: string; ignored: string[]; error?: string } {
  let tokens: string[];
  try {
    tokens = shlexSplit(args);
  } catch (e) {
    return { ignored: [], error: `cannot split ${JSON.stringify(args)}: ${(e as Error).message}` };
  }
  const ignored: string[] = [];
  let jump: string | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    let opt: string | undefined;
    if (t === '-J') jump = tokens[++i];
    else if (t.startsWith('-J')) jump = t.slice(2);
    else if (t === '-o') opt = tokens[++i];
    else if (t.startsWith('-o')) opt = t.slice(2);
    else ignored.push(t);
    if (opt === undefined) continue;
    const m = /^(\w+)\s*[= ]\s*(.*)$/s.exec(opt);
    if (!m) {
      ignored.push(`-o ${opt}`);
      continue;
    }
    const key = m[1]!.toLowerCase();
    if (key === 'proxyjump') jump = m[2]!;
    else if (key === 'proxycommand') {
      const hop = hopFromProxyCommand(m[2]!);
      if (!hop) return { ignored, error: `ProxyCommand ${JSON.stringify(m[2])} is not an "ssh -W %h:%p [user@]host" bastion: certroll runs no local commands; use -J / ProxyJump` };
      jump = hop;
    } else ignored.push(`-o ${opt}`);
  }
  return { ...(jump !== undefined ? { jump } : {}), ignored };
}

/** `ssh [-q] [-A] [-i key] [-p port] [-l user] -W %h:%p [user@]host` → `user@host:port`. */
export function hopFromProxyCommand(cmd: string): string | undefined {
  let t: string[];
  try {
    t = shlexSplit(cmd);
  } catch {
    return undefined;
  }
  if (!t.length || !/(^|\/)ssh$/.test(t[0]!)) return undefined;
  let port: string | undefined;
  let user: string | undefined;
  let dest: string | undefined;
  let w = false;
  for (let i = 1; i < t.length; i++) {
    const a = t[i]!;
    if (a === '-W') {
      if (!/^(%h|\[%h\]):%p$/.test(t[++i] ?? '')) return undefined;
      w = true;
    } else if (a === '-p') port = t[++i];
    else if (a === '-l') user = t[++i];
    else if (['-i', '-F', '-o', '-c', '-m', '-b', '-E'].includes(a)) i++;
    else if (/^-[46AaCfGgKkMNnqsTtVvXxYy]+$/.test(a)) continue;
    else if (a.startsWith('-')) return undefined;
    else if (dest === undefined) dest = a;
    else return undefined; // a remote command (e.g. `nc %h %p`)
  }
  if (!w || !dest) return undefined;
  if (user && !dest.includes('@')) dest = `${user}@${dest}`;
  return port ? `${dest}:${port}` : dest;
}

/** Build the certroll inventory YAML for an Ansible inventory file. Throws InputError naming file and line. */
export function importAnsible(file: string, opts: ImportOptions = {}): ImportResult {
  const shown = relative(process.cwd(), file) || file;
  let ai: AnsibleInventory;
  try {
    ai = parseAnsibleInventory(file, shown.startsWith('..') ? file : shown);
  } catch (e) {
    if (e instanceof AnsibleParseError) throw new InputError(e.issues, 'Invalid Ansible inventory:');
    throw e;
  }
  const overlay = opts.overlay ? readOverlay(opts.overlay) : {};
  const warnings = [...ai.warnings];
  const issues: InputIssue[] = [];
  const origins = new Map<string, Origin & { what: string }>();

  // Roles.
  const map: Record<string, string[]> = {};
  for (const [role, groups] of Object.entries(overlay.groupMap ?? {})) map[role] = Array.isArray(groups) ? groups : [groups];
  Object.assign(map, opts.groupMap ?? {});
  const roles: Record<string, string[]> = {};
  const members = (g: string): string[] => {
    const out: string[] = [];
    const walk = (name: string, seen: Set<string>) => {
      if (seen.has(name)) return;
      seen.add(name);
      const grp = ai.groups.get(name)!;
      for (const h of grp.hosts) if (!out.includes(h)) out.push(h);
      for (const c of grp.children) walk(c, seen);
    };
    walk(g, new Set());
    return out;
  };
  for (const role of Object.keys(roleConventions)) {
    if (map[role]) {
      for (const g of map[role]!) if (!ai.groups.has(g)) issues.push({ file: opts.groupMap?.[role] ? '--group-map' : opts.overlay!, path: `groupMap.${role}`, message: `group "${g}" is not in ${ai.file} (groups: ${[...ai.groups.keys()].filter((x) => x !== 'all' && x !== 'ungrouped').join(', ')})` });
      roles[role] = map[role]!;
    } else {
      const found = roleConventions[role]!.find((g) => ai.groups.has(g) && members(g).length > 0);
      if (found) roles[role] = [found];
    }
  }
  if (!roles.master?.length && !issues.length)
    issues.push({ file: ai.file, line: firstGroupLine(ai), path: 'groupMap.master', message: `no control-plane group: none of ${roleConventions.master!.join(', ')} has hosts; name it with --group-map master=GROUP (or groupMap: in the overlay)` });
  if (issues.length) throw new InputError(issues, 'Invalid Ansible inventory:');

  const groups: Record<string, string[]> = {};
  for (const [role, gs] of Object.entries(roles)) {
    const hs: string[] = [];
    for (const g of gs) for (const h of members(g)) if (!hs.includes(h)) hs.push(h);
    groups[role] = hs;
  }
  const inRole = new Set(Object.values(groups).flat());
  const skipped = [...ai.hosts.keys()].filter((h) => !inRole.has(h)).map((h) => ({ name: h, groups: groupsOf(ai, h).map((g) => g.name) }));

  // kubespray's [bastion] group: its first host is the jump host of every other host.
  const bastionName = ai.groups.get('bastion')?.hosts[0];
  let bastionJump: { spec: string; at: Origin } | undefined;
  if (bastionName) {
    const bv = hostVars(ai, bastionName);
    const addr = String(bv.vars.ansible_host ?? bastionName);
    const port = bv.vars.ansible_port ?? bv.vars.ansible_ssh_port;
    const user = bv.vars.ansible_user ?? bv.vars.ansible_ssh_user;
    bastionJump = { spec: `${user ? `${String(user)}@` : ''}${addr}${port !== undefined && Number(port) !== 22 ? `:${String(port)}` : ''}`, at: ai.hosts.get(bastionName)!.at };
  }

  const hosts: Record<string, Record<string, unknown>> = {};
  const home = opts.home ?? homedir();
  for (const name of ai.hosts.keys()) {
    if (!inRole.has(name)) continue;
    const { vars, at } = hostVars(ai, name);
    const h: Record<string, unknown> = {};
    const ssh: Record<string, unknown> = {};
    const note = (path: string, what: string, o: Origin | undefined) => origins.set(`hosts.${name}${path ? '.' + path : ''}`, { ...(o ?? ai.hosts.get(name)!.at), what });
    note('', `host ${name}`, ai.hosts.get(name)!.at);
    const pick = (...keys: string[]) => keys.find((k) => vars[k] !== undefined && vars[k] !== null && vars[k] !== '');
    const addrKey = pick('ansible_host', 'ansible_ssh_host');
    h.address = addrKey ? String(vars[addrKey]) : name;
    note('address', addrKey ?? 'inventory host name', addrKey ? at[addrKey] : undefined);
    const portKey = pick('ansible_port', 'ansible_ssh_port');
    if (portKey) {
      const p = vars[portKey];
      ssh.port = typeof p === 'string' && /^\d+$/.test(p) ? Number(p) : p;
      note('ssh.port', portKey, at[portKey]);
    }
    const userKey = pick('ansible_user', 'ansible_ssh_user');
    if (userKey) {
      ssh.user = vars[userKey];
      note('ssh.user', userKey, at[userKey]);
    }
    const keyKey = pick('ansible_ssh_private_key_file', 'ansible_private_key_file');
    if (keyKey) {
      const k = String(vars[keyKey]);
      ssh.identityFile = k.startsWith('~/') ? `${home}/${k.slice(2)}` : k;
      note('ssh.identityFile', keyKey, at[keyKey]);
    }
    if (vars.ansible_become !== undefined) {
      ssh.become = truthy(vars.ansible_become);
      note('ssh.become', 'ansible_become', at.ansible_become);
      const bu = vars.ansible_become_user;
      if (ssh.become && bu !== undefined && bu !== 'root') warnings.push(`${name}: ansible_become_user ${String(bu)} is not used: certroll becomes root (${fmt(at.ansible_become_user)})`);
    }
    for (const secret of ['ansible_ssh_pass', 'ansible_password', 'ansible_become_pass', 'ansible_become_password', 'ansible_sudo_pass'])
      if (vars[secret] !== undefined)
        warnings.push(`${name}: ${secret} is not read (passwords do not come from inventories): set ${secret.includes('become') || secret.includes('sudo') ? 'CERTROLL_BECOME_PASSWORD' : 'CERTROLL_SSH_PASSWORD'} or type it when asked (${fmt(at[secret])})`);
    if (vars.ansible_connection !== undefined && vars.ansible_connection !== 'ssh')
      warnings.push(`${name}: ansible_connection=${String(vars.ansible_connection)} is not used: certroll always connects over SSH (${fmt(at.ansible_connection)})`);
    // Bastions.
    let jump: string | undefined;
    for (const k of ['ansible_ssh_common_args', 'ansible_ssh_extra_args']) {
      if (typeof vars[k] !== 'string') continue;
      const r = jumpFromSshArgs(vars[k] as string);
      if (r.error) issues.push({ file: at[k]?.file ?? ai.file, ...(at[k]?.line ? { line: at[k]!.line } : {}), path: `${k} of host ${name}`, message: r.error });
      if (r.jump) {
        jump = r.jump;
        note('ssh.jump', k, at[k]);
      }
      for (const ig of r.ignored) {
        const w = `${k} ${ig} is not applied: certroll ${/StrictHostKeyChecking|UserKnownHostsFile/i.test(ig) ? 'always checks host keys against known_hosts' : 'passes no extra ssh options'} (${fmt(at[k])})`;
        warnings.push(`${name}: ${w}`);
      }
    }
    if (jump === undefined && bastionJump && name !== bastionName) {
      jump = bastionJump.spec;
      note('ssh.jump', `first host of the [bastion] group (kubespray)`, bastionJump.at);
    }
    if (jump !== undefined) ssh.jump = jump;
    // Per-host additions of the overlay win (hostname, ip, vars, ssh).
    const ov = overlay.hosts?.[name];
    if (ov) {
      for (const [k, v] of Object.entries(ov)) {
        if (k === 'ssh' && v && typeof v === 'object') Object.assign(ssh, v);
        else h[k] = v;
        if (opts.overlay) note(k, `overlay hosts.${name}.${k}`, { file: opts.overlay });
      }
    }
    if (Object.keys(ssh).length) h.ssh = ssh;
    hosts[name] = h;
  }
  if (overlay.hosts) for (const n of Object.keys(overlay.hosts)) if (!hosts[n]) warnings.push(`overlay hosts.${n}: not a host of a mapped group; ignored`);
  if (issues.length) throw new InputError(issues, 'Invalid Ansible inventory:');

  // One line per distinct warning, naming every host it applies to.
  const byText = new Map<string, string[]>();
  const plain: string[] = [];
  for (const w of warnings) {
    const m = /^([^:\s]+): (.*)$/s.exec(w);
    if (m && inRole.has(m[1]!)) (byText.get(m[2]!) ?? byText.set(m[2]!, []).get(m[2]!)!).push(m[1]!);
    else plain.push(w);
  }
  warnings.length = 0;
  warnings.push(...plain, ...[...byText].map(([t, hs]) => `${hs.join(', ')}: ${t}`));

  const doc: Record<string, unknown> = {};
  if (overlay.vars) doc.vars = overlay.vars;
  if (overlay.ssh) doc.ssh = overlay.ssh;
  doc.hosts = hosts;
  doc.groups = groups;
  const header = `# certroll inventory converted from the Ansible inventory ${ai.file}${opts.overlay ? ` with the overlay ${opts.overlay}` : ''}\n# roles: ${Object.entries(roles).map(([r, g]) => `${r} <- ${g.join('+')}`).join(', ')}\n`;
  const yaml = header + dump(doc, { lineWidth: 200, noRefs: true });
  return { yaml, skipped, roles, warnings, origins };
}

/** The line of the first group or host in the file (where a missing role is looked for). */
function firstGroupLine(ai: AnsibleInventory): number {
  const lines = [...ai.groups.values()].map((g) => g.at?.line).concat([...ai.hosts.values()].map((h) => h.at.line)).filter((l): l is number => l !== undefined);
  return lines.length ? Math.min(...lines) : 1;
}

function fmt(o: Origin | undefined): string {
  return o ? `${o.file}${o.line ? ':' + o.line : ''}` : 'group_vars';
}

/** Map an issue of the converted inventory back to the Ansible file and line it came from. */
export function mapIssue(issue: InputIssue, origins: Map<string, Origin & { what: string }>): InputIssue {
  const path = issue.path.replace(/\["([^"]+)"\]/g, '.$1');
  let best: string | undefined;
  for (const k of origins.keys()) if ((path === k || path.startsWith(k + '.')) && (!best || k.length > best.length)) best = k;
  if (!best) return issue;
  const o = origins.get(best)!;
  const { column: _c, ...rest } = issue;
  void _c;
  return { ...rest, file: o.file, ...(o.line ? { line: o.line } : { line: undefined }), path: `${issue.path} (${o.what})` };
}
