// Reads Ansible inventories (INI and YAML, with group_vars/ and host_vars/ beside them) the way ansible-inventory 2.14
// does: groups and children, host ranges, `host:port`, INI values through Python's literal_eval, YAML 1.1 types, and the
// variable precedence of `ansible-inventory --list`. Every value keeps the file and line it was read from.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative } from 'node:path';
import { load as yamlLoad, YAML11_SCHEMA, YAMLException } from 'js-yaml';
import type { InputIssue } from '../errors.js';
import { parseYaml, type LocatedYaml } from '../yaml/located.js';

export interface Origin {
  file: string;
  line?: number;
}

export interface AnsibleHost {
  name: string;
  /** Host-level variables (inventory host lines / hosts: entries), in the order set. */
  vars: Record<string, unknown>;
  varsAt: Record<string, Origin>;
  /** Where the host first appears. */
  at: Origin;
}

export interface AnsibleGroup {
  name: string;
  hosts: string[];
  children: string[];
  parents: string[];
  vars: Record<string, unknown>;
  varsAt: Record<string, Origin>;
  at?: Origin;
  depth: number;
}

export interface AnsibleInventory {
  file: string;
  hosts: Map<string, AnsibleHost>;
  /** In creation order; `all` and `ungrouped` first. */
  groups: Map<string, AnsibleGroup>;
  /** group_vars/ and host_vars/ files beside the inventory: entity name → merged vars with origins. */
  groupVarFiles: Map<string, { vars: Record<string, unknown>; varsAt: Record<string, Origin> }>;
  hostVarFiles: Map<string, { vars: Record<string, unknown>; varsAt: Record<string, Origin> }>;
  warnings: string[];
}

/** Thrown with every problem found, each naming file and line (like certroll's own inventory errors). */
export class AnsibleParseError extends Error {
  constructor(readonly issues: InputIssue[]) {
    super(issues.map((i) => `${i.message} (${i.file}${i.line ? ':' + i.line : ''})`).join('\n'));
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Python literal_eval, as the INI plugin applies it to every value (a value it cannot evaluate stays a string).

class NotLiteral extends Error {}

export function pythonLiteral(text: string): unknown {
  try {
    const p = new PyLiteral(text);
    const v = p.value();
    p.ws();
    if (p.i !== text.length) throw new NotLiteral();
    return v;
  } catch (e) {
    if (e instanceof NotLiteral) return text;
    throw e;
  }
}

class PyLiteral {
  i = 0;
  constructor(readonly s: string) {}
  ws(): void {
    while (this.i < this.s.length && /[ \t]/.test(this.s[this.i]!)) this.i++;
  }
  value(): unknown {
    this.ws();
    const s = this.s;
    const c = s[this.i];
    if (c === undefined) throw new NotLiteral();
    if (c === '[' || c === '(') return this.seq(c === '[' ? ']' : ')');
    if (c === '{') return this.dict();
    if (c === '"' || c === "'") {
      let out = this.str();
      // Adjacent string literals concatenate.
      for (;;) {
        this.ws();
        if (s[this.i] === '"' || s[this.i] === "'") out += this.str();
        else return out;
      }
    }
    const m = /^[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][-+]?\d+)?|\d[\d_]*\.)/.exec(s.slice(this.i));
    if (m && /\d/.test(m[0])) {
      const t = m[0].replace(/_/g, '');
      this.i += m[0].length;
      if (/^[-+]?0[xX]/.test(t)) return parseInt(t.replace(/0[xX]/, ''), 16) * (t.startsWith('-') ? -1 : 1);
      if (/^[-+]?0[oO]/.test(t)) return parseInt(t.replace(/0[oO]/, ''), 8) * (t.startsWith('-') ? -1 : 1);
      if (/^[-+]?0[bB]/.test(t)) return parseInt(t.replace(/0[bB]/, ''), 2) * (t.startsWith('-') ? -1 : 1);
      // Python 3 refuses decimal integers with a leading zero (`012`).
      if (/^[-+]?0\d/.test(t) && !/[.eE]/.test(t)) throw new NotLiteral();
      return Number(t);
    }
    const w = /^[A-Za-z_]\w*/.exec(s.slice(this.i));
    if (w) {
      this.i += w[0].length;
      if (w[0] === 'True') return true;
      if (w[0] === 'False') return false;
      if (w[0] === 'None') return null;
    }
    throw new NotLiteral();
  }
  str(): string {
    const q = this.s[this.i]!;
    const triple = this.s.startsWith(q.repeat(3), this.i);
    const end = triple ? q.repeat(3) : q;
    this.i += end.length;
    let out = '';
    while (this.i < this.s.length) {
      if (this.s.startsWith(end, this.i)) {
        this.i += end.length;
        return out;
      }
      const c = this.s[this.i]!;
      if (c === '\\') {
        const n = this.s[this.i + 1];
        const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v' };
        if (n !== undefined && n in map) {
          out += map[n];
          this.i += 2;
          continue;
        }
        if (n === 'x' || n === 'u') {
          const len = n === 'x' ? 2 : 4;
          const hex = this.s.slice(this.i + 2, this.i + 2 + len);
          if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) throw new NotLiteral();
          out += String.fromCharCode(parseInt(hex, 16));
          this.i += 2 + len;
          continue;
        }
        out += c;
        this.i++;
        continue;
      }
      if (!triple && c === '\n') throw new NotLiteral();
      out += c;
      this.i++;
    }
    throw new NotLiteral();
  }
  seq(close: string): unknown[] {
    this.i++;
    const out: unknown[] = [];
    for (;;) {
      this.ws();
      if (this.s[this.i] === close) {
        this.i++;
        return out;
      }
      out.push(this.value());
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== close) throw new NotLiteral();
    }
  }
  dict(): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    for (;;) {
      this.ws();
      if (this.s[this.i] === '}') {
        this.i++;
        return out;
      }
      const k = this.value();
      this.ws();
      if (this.s[this.i] !== ':') throw new NotLiteral();
      this.i++;
      out[String(k)] = this.value();
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== '}') throw new NotLiteral();
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Host patterns: ranges (`node[01:10]`, `[a:f]`, `[1:9:2]`) and `host:port`.

/** Expand Ansible's `[beg:end(:step)]` ranges; throws a message string when a range is malformed. */
export function expandHostRange(pattern: string): string[] {
  const open = pattern.indexOf('[');
  const close = pattern.indexOf(']', open);
  if (open < 0 || close < 0 || !pattern.slice(open, close).includes(':')) return [pattern];
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const bounds = pattern.slice(open + 1, close).split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw 'host range must be begin:end or begin:end:step';
  let [beg, end, stepS] = bounds as [string, string, string?];
  if (beg === '') beg = '0';
  if (end === '') throw 'host range must specify end value';
  const step = stepS ? Number(stepS) : 1;
  if (!(step > 0)) throw 'host range step must be a positive integer';
  const out: string[] = [];
  const tails = expandHostRange(tail);
  if (/^[A-Za-z]$/.test(beg) && /^[A-Za-z]$/.test(end)) {
    const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const b = letters.indexOf(beg);
    const e = letters.indexOf(end);
    if (b > e) throw 'host range must have begin <= end';
    for (let k = b; k <= e; k += step) for (const t of tails) out.push(head + letters[k] + t);
    return out;
  }
  if (!/^\d+$/.test(beg) || !/^\d+$/.test(end)) throw `host range bounds must be numbers or single letters, got [${bounds.join(':')}]`;
  const width = beg.startsWith('0') && beg.length > 1 ? beg.length : 0;
  if (width && beg.length !== end.length) throw 'host range must specify equal-length begin and end formats';
  const b = Number(beg);
  const e = Number(end);
  if (b > e) throw 'host range must have begin <= end';
  for (let k = b; k <= e; k += step) for (const t of tails) out.push(head + (width ? String(k).padStart(width, '0') : String(k)) + t);
  return out;
}

/** Split `name:port` (not an IPv6 address, not inside a range). */
export function splitHostPort(pattern: string): { host: string; port?: number } {
  const b6 = /^\[([^\]]*:[^\]]*)\](?::(\d+))?$/.exec(pattern);
  if (b6 && !/^\d*:\d*(:\d*)?$/.test(b6[1]!)) return { host: b6[1]!, ...(b6[2] ? { port: Number(b6[2]) } : {}) };
  const outside = pattern.replace(/\[[^\]]*\]/g, (m) => 'x'.repeat(m.length));
  const colons = [...outside].filter((c) => c === ':').length;
  if (colons === 1) {
    const k = outside.indexOf(':');
    const port = pattern.slice(k + 1);
    if (/^\d+$/.test(port)) return { host: pattern.slice(0, k), port: Number(port) };
  }
  return { host: pattern };
}

// ---------------------------------------------------------------------------------------------------------------------
// shlex.split(line, comments=True) (posix), as the INI plugin splits host lines.

export function shlexSplit(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  let word: string | undefined;
  const push = () => {
    if (word !== undefined) out.push(word);
    word = undefined;
  };
  while (i < line.length) {
    const c = line[i]!;
    if (/\s/.test(c)) {
      push();
      i++;
    } else if (c === '#' && word === undefined) {
      break;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('No closing quotation');
      word = (word ?? '') + line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < line.length && line[j] !== '"') {
        if (line[j] === '\\' && (line[j + 1] === '"' || line[j + 1] === '\\' || line[j + 1] === '$' || line[j + 1] === '`')) {
          s += line[j + 1];
          j += 2;
        } else s += line[j++];
      }
      if (j >= line.length) throw new Error('No closing quotation');
      word = (word ?? '') + s;
      i = j + 1;
    } else if (c === '\\') {
      if (i + 1 < line.length) word = (word ?? '') + line[i + 1];
      i += 2;
    } else {
      word = (word ?? '') + c;
      i++;
    }
  }
  push();
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// The inventory model (Ansible's InventoryData).

class Builder {
  readonly hosts = new Map<string, AnsibleHost>();
  readonly groups = new Map<string, AnsibleGroup>();
  readonly warnings: string[] = [];
  constructor() {
    this.addGroup('all');
    this.addGroup('ungrouped');
  }
  addGroup(name: string, at?: Origin): AnsibleGroup {
    let g = this.groups.get(name);
    if (!g) {
      g = { name, hosts: [], children: [], parents: [], vars: {}, varsAt: {}, depth: 0, ...(at ? { at } : {}) };
      this.groups.set(name, g);
    }
    return g;
  }
  addHost(name: string, group: string, at: Origin, port?: number): AnsibleHost {
    let h = this.hosts.get(name);
    if (!h) {
      h = { name, vars: {}, varsAt: {}, at };
      this.hosts.set(name, h);
    }
    const g = this.addGroup(group);
    if (!g.hosts.includes(name)) g.hosts.push(name);
    if (port !== undefined) this.setHostVar(h, 'ansible_port', port, at);
    return h;
  }
  setHostVar(h: AnsibleHost, k: string, v: unknown, at: Origin): void {
    delete h.vars[k];
    h.vars[k] = v;
    h.varsAt[k] = at;
  }
  setGroupVar(g: AnsibleGroup, k: string, v: unknown, at: Origin): void {
    g.vars[k] = v;
    g.varsAt[k] = at;
  }
  addChild(parent: string, child: string): void {
    const p = this.addGroup(parent);
    const c = this.addGroup(child);
    if (parent === child) throw new Error(`can't add group to itself: ${child}`);
    if (!p.children.includes(child)) p.children.push(child);
    if (!c.parents.includes(parent)) c.parents.push(parent);
  }
  /** Ansible's reconcile_inventory: top-level groups become children of all; hosts in no group go to ungrouped. */
  finish(): void {
    for (const g of this.groups.values()) if (g.name !== 'all' && g.parents.length === 0) this.addChild('all', g.name);
    // Hosts in another group leave ungrouped; hosts in no group (or only all) join it.
    const inOther = new Set<string>();
    for (const g of this.groups.values()) if (g.name !== 'all' && g.name !== 'ungrouped') for (const h of g.hosts) inOther.add(h);
    const ungrouped = this.groups.get('ungrouped')!;
    ungrouped.hosts = ungrouped.hosts.filter((h) => !inOther.has(h));
    for (const h of this.hosts.keys()) if (!inOther.has(h) && !ungrouped.hosts.includes(h)) ungrouped.hosts.push(h);
    // depth: the longest path from all.
    const depth = (name: string, seen: Set<string>): number => {
      const g = this.groups.get(name)!;
      if (name === 'all') return 0;
      if (seen.has(name)) return 0;
      seen.add(name);
      return Math.max(0, ...g.parents.map((p) => depth(p, seen) + 1));
    };
    for (const g of this.groups.values()) g.depth = depth(g.name, new Set());
  }
}

const GROUP_NAME = /^[^:\]\s]+$/;

function parseIni(text: string, file: string, b: Builder, issues: InputIssue[]): void {
  const lines = text.split(/\r?\n/);
  let group = 'ungrouped';
  let state: 'hosts' | 'vars' | 'children' = 'hosts';
  const pending = new Map<string, { line: number; state: string; name: string; parents: string[] }>();
  const fail = (line: number, message: string) => issues.push({ file, line, path: '', message });
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const sec = /^\[([^\]]+)\]\s*(?:#.*)?$/.exec(line);
    if (sec) {
      const m = /^([^:\]\s]+)(?::(\w+))?$/.exec(sec[1]!);
      if (!m) {
        fail(lineNo, `invalid section entry: ${line}`);
        return;
      }
      group = m[1]!;
      const st = m[2] ?? 'hosts';
      if (st !== 'hosts' && st !== 'vars' && st !== 'children') {
        fail(lineNo, `section [${sec[1]}] has unknown type: ${st}`);
        return;
      }
      state = st;
      if (/[^A-Za-z0-9_]/.test(group) && !b.warnings.some((w) => w.startsWith('Invalid characters')))
        b.warnings.push('Invalid characters were found in group names but not replaced');
      if (!b.groups.has(group)) {
        if (state === 'vars' && !pending.has(group)) pending.set(group, { line: lineNo, state, name: group, parents: [] });
        b.addGroup(group, { file, line: lineNo });
      } else if (!b.groups.get(group)!.at) b.groups.get(group)!.at = { file, line: lineNo };
      const p = pending.get(group);
      if (p && state !== 'vars') {
        if (p.state === 'children') for (const parent of p.parents) b.addChild(parent, group);
        pending.delete(group);
      }
      continue;
    }
    if (line.startsWith('[')) {
      fail(lineNo, `invalid section entry: ${line}`);
      return;
    }
    const at = { file, line: lineNo };
    if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) {
        fail(lineNo, `expected key=value, got: ${line}`);
        return;
      }
      const k = line.slice(0, eq).trim();
      b.setGroupVar(b.groups.get(group)!, k, pythonLiteral(line.slice(eq + 1).trim()), at);
    } else if (state === 'children') {
      const child = line.split(/\s+/)[0]!;
      if (!GROUP_NAME.test(child)) {
        fail(lineNo, `invalid group name in [${group}:children]: ${child}`);
        return;
      }
      if (!b.groups.has(child)) {
        const p = pending.get(child);
        if (!p) pending.set(child, { line: lineNo, state, name: child, parents: [group] });
        else p.parents.push(group);
      } else b.addChild(group, child);
    } else {
      let tokens: string[];
      try {
        tokens = shlexSplit(line);
      } catch (e) {
        fail(lineNo, `cannot split host line: ${(e as Error).message}`);
        return;
      }
      if (tokens.length === 0) continue;
      const { host: pattern, port } = splitHostPort(tokens[0]!);
      let names: string[];
      try {
        names = expandHostRange(pattern);
      } catch (msg) {
        fail(lineNo, `${tokens[0]}: ${String(msg)}`);
        return;
      }
      const vars: Array<[string, unknown]> = [];
      for (const t of tokens.slice(1)) {
        const eq = t.indexOf('=');
        if (eq < 0) {
          fail(lineNo, `expected key=value host variable assignment, got: ${t}`);
          return;
        }
        vars.push([t.slice(0, eq), pythonLiteral(t.slice(eq + 1))]);
      }
      for (const name of names) {
        const h = b.addHost(name, group, at, port);
        for (const [k, v] of vars) b.setHostVar(h, k, v, at);
      }
    }
  }
  for (const p of pending.values()) {
    if (p.state === 'vars') fail(p.line, `section [${p.name}:vars] not valid for undefined group: ${p.name}`);
    else fail(p.line, `section [${p.parents[0]}:children] includes undefined group: ${p.name}`);
  }
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseYamlInventory(doc: LocatedYaml, b: Builder, issues: InputIssue[]): void {
  const file = doc.file;
  const root = doc.value;
  if (root === null || root === undefined) return;
  if (!isMap(root)) {
    issues.push({ file, line: 1, path: '', message: 'expected a mapping of group names (all:, …)' });
    return;
  }
  const group = (name: string, data: unknown, path: string[]): string => {
    if (!(data === null || isMap(data))) {
      b.warnings.push(`Skipping '${name}' as this is not a valid group definition (${file}:${doc.at(path)?.line ?? '?'})`);
      return name;
    }
    b.addGroup(name, { file, line: doc.keyAt(path)?.line });
    if (data === null) return name;
    for (const section of ['vars', 'children', 'hosts']) {
      const v = data[section];
      if (typeof v === 'string') data[section] = { [v]: null };
      else if (!(v === undefined || v === null || isMap(v))) {
        issues.push({ file, line: doc.at([...path, section])?.line, path: [...path, section].join('.'), message: `invalid "${section}" entry for "${name}" group, requires a dictionary` });
        return name;
      }
    }
    for (const [key, val] of Object.entries(data)) {
      if (val === null || val === undefined) continue;
      if (!isMap(val)) {
        b.warnings.push(`Skipping key (${key}) in group (${name}) as it is not a mapping`);
        continue;
      }
      if (key === 'vars') {
        for (const [k, v] of Object.entries(val)) b.setGroupVar(b.groups.get(name)!, k, v, { file, line: doc.keyAt([...path, 'vars', k])?.line });
      } else if (key === 'children') {
        for (const [sub, subData] of Object.entries(val)) {
          group(sub, subData, [...path, 'children', sub]);
          b.addChild(name, sub);
        }
      } else if (key === 'hosts') {
        for (const [pattern, hv] of Object.entries(val)) {
          const at = { file, line: doc.keyAt([...path, 'hosts', pattern])?.line };
          const { host, port } = splitHostPort(pattern);
          let names: string[];
          try {
            names = expandHostRange(host);
          } catch (msg) {
            issues.push({ file, line: at.line, path: [...path, 'hosts', pattern].join('.'), message: String(msg) });
            continue;
          }
          for (const n of names) {
            const h = b.addHost(n, name, at, port);
            if (isMap(hv)) for (const [k, v] of Object.entries(hv)) b.setHostVar(h, k, v, { file, line: doc.keyAt([...path, 'hosts', pattern, k])?.line ?? at.line });
          }
        }
      } else b.warnings.push(`Skipping unexpected key (${key}) in group (${name}), only "vars", "children" and "hosts" are valid`);
    }
    return name;
  };
  for (const [name, data] of Object.entries(root)) group(name, data, [name]);
}

/** Files Ansible's host_group_vars plugin reads for one entity: `<dir>/<name>{,.yml,.yaml,.json}` or the directory `<dir>/<name>/`. */
function varsFilesFor(dir: string, name: string): string[] {
  const out: string[] = [];
  const base = join(dir, name);
  const isDir = (p: string) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  const isFile = (p: string) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      if (e.startsWith('.') || e.endsWith('~')) continue;
      const p = join(d, e);
      if (isDir(p)) walk(p);
      else if (['.yml', '.yaml', '.json', ''].includes(extname(e))) out.push(p);
    }
  };
  if (isDir(base)) walk(base);
  else for (const ext of ['', '.yml', '.yaml', '.json']) if (isFile(base + ext)) out.push(base + ext);
  return out;
}

function loadVarsFiles(dir: string, names: Iterable<string>, shown: (f: string) => string, issues: InputIssue[]): Map<string, { vars: Record<string, unknown>; varsAt: Record<string, Origin> }> {
  const out = new Map<string, { vars: Record<string, unknown>; varsAt: Record<string, Origin> }>();
  for (const name of names) {
    for (const f of varsFilesFor(dir, name)) {
      const text = readFileSync(f, 'utf8');
      let value: unknown;
      if (!text.split('\n').some((l) => l.trim() !== '' && !l.trim().startsWith('#') && l.trim() !== '---')) continue;
      try {
        value = yamlLoad(text, { schema: YAML11_SCHEMA, filename: shown(f) });
      } catch (e) {
        if (e instanceof YAMLException) {
          issues.push({ file: shown(f), ...(e.mark ? { line: e.mark.line + 1, column: e.mark.column + 1 } : {}), path: '', message: `YAML syntax error: ${e.reason}` });
          continue;
        }
        throw e;
      }
      if (value === null || value === undefined) continue;
      if (!isMap(value)) {
        issues.push({ file: shown(f), line: 1, path: '', message: 'expected a mapping of variables' });
        continue;
      }
      const entry = out.get(name) ?? { vars: {}, varsAt: {} };
      const lines = text.split('\n');
      for (const [k, v] of Object.entries(value)) {
        entry.vars[k] = v;
        const ln = lines.findIndex((l) => l.startsWith(`${k}:`) || l.startsWith(`"${k}":`) || l.startsWith(`'${k}':`));
        entry.varsAt[k] = { file: shown(f), ...(ln >= 0 ? { line: ln + 1 } : {}) };
      }
      out.set(name, entry);
    }
  }
  return out;
}

/** Is this text an Ansible inventory rather than a certroll one? (INI, or YAML without certroll's hosts:/groups: shape.) */
export function looksLikeAnsible(text: string, file: string): boolean {
  if (/\.(ini|cfg)$/i.test(file)) return true;
  const firstReal = text.split('\n').find((l) => l.trim() !== '' && !/^\s*[#;]/.test(l) && l.trim() !== '---');
  if (firstReal !== undefined && /^\s*\[[^\]]+\]\s*(#.*)?$/.test(firstReal)) return true;
  // YAML: certroll inventories have top-level hosts: and groups: (decided without parsing: a big certroll inventory is
  // parsed once, by its own loader); Ansible's have group names (usually all:) whose values hold hosts:/children:/vars:.
  if (/^(hosts|groups|vars|ssh)\s*:/m.test(text.replace(/^\uFEFF+/, ''))) return false;
  const parsed = parseYaml(text, file);
  const v = parsed.doc?.value;
  if (parsed.doc && isMap(v)) {
    if (['groups', 'hosts', 'vars', 'ssh'].some((k) => k in v)) return false;
    return Object.values(v).every((g) => g === null || isMap(g)) && Object.values(v).some((g) => isMap(g) && ('hosts' in g || 'children' in g));
  }
  // Not YAML at all, but host lines (`name [key=value …]`): INI without a section header; never for a .yaml/.yml/.json
  // file, whose syntax error the certroll loader reports.
  if (/\.(ya?ml|json)$/i.test(file) || parsed.doc) return false;
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !/^\s*[#;]/.test(l));
  return lines.length > 0 && lines.every((l) => /^[^\s:#=[\]{}]+(\s+[\w.-]+=.*)?$/.test(l.trim()));
}

/** Parse an Ansible inventory file (INI or YAML) with the group_vars/ and host_vars/ beside it. Throws AnsibleParseError. */
export function parseAnsibleInventory(file: string, shownAs = file): AnsibleInventory {
  const text = readFileSync(file, 'utf8');
  const b = new Builder();
  const issues: InputIssue[] = [];
  const trimmed = text.replace(/^\uFEFF/, '');
  const yamlDoc = /\.(ya?ml|json)$/i.test(file) ? parseYaml(trimmed, shownAs) : undefined;
  if (yamlDoc) {
    if (!yamlDoc.doc) throw new AnsibleParseError(yamlDoc.issues);
    parseYamlInventory(yamlDoc.doc, b, issues);
  } else {
    // Not .yml: INI unless it parses as a YAML mapping of groups (Ansible's auto plugin tries both).
    const y = parseYaml(trimmed, shownAs);
    if (y.doc && isMap(y.doc.value) && Object.values(y.doc.value).every((g) => g === null || isMap(g)) && !/^\s*\[/m.test(trimmed)) parseYamlInventory(y.doc, b, issues);
    else parseIni(trimmed, shownAs, b, issues);
  }
  if (issues.length) throw new AnsibleParseError(issues);
  b.finish();
  const dir = dirname(file);
  const shownDir = dirname(shownAs);
  const shown = (f: string) => join(shownDir, relative(dir, f));
  const groupVarFiles = loadVarsFiles(join(dir, 'group_vars'), b.groups.keys(), shown, issues);
  const hostVarFiles = loadVarsFiles(join(dir, 'host_vars'), b.hosts.keys(), shown, issues);
  if (issues.length) throw new AnsibleParseError(issues);
  return { file: shownAs, hosts: b.hosts, groups: b.groups, groupVarFiles, hostVarFiles, warnings: b.warnings };
}

/** Every group a host is in, ancestors included (not `all`). */
export function groupsOf(inv: AnsibleInventory, host: string): AnsibleGroup[] {
  const out = new Set<string>();
  const up = (g: string) => {
    if (out.has(g) || g === 'all') return;
    out.add(g);
    for (const p of inv.groups.get(g)!.parents) up(p);
  };
  for (const g of inv.groups.values()) if (g.hosts.includes(host)) up(g.name);
  return [...out].map((g) => inv.groups.get(g)!);
}

/** A host's variables after Ansible's merge (ansible-inventory --list), each with where it was set. */
export function hostVars(inv: AnsibleInventory, host: string): { vars: Record<string, unknown>; at: Record<string, Origin> } {
  const vars: Record<string, unknown> = {};
  const at: Record<string, Origin> = {};
  const lay = (src: { vars: Record<string, unknown>; varsAt: Record<string, Origin> } | undefined) => {
    if (!src) return;
    for (const [k, v] of Object.entries(src.vars)) {
      vars[k] = v;
      if (src.varsAt[k]) at[k] = src.varsAt[k]!;
    }
  };
  const groups = groupsOf(inv, host).sort((a, b) => a.depth - b.depth || priority(a) - priority(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  lay(inv.groups.get('all'));
  for (const g of groups) lay(g);
  lay(inv.groupVarFiles.get('all'));
  for (const g of groups) lay(inv.groupVarFiles.get(g.name));
  lay(inv.hosts.get(host));
  lay(inv.hostVarFiles.get(host));
  return { vars, at };
}

function priority(g: AnsibleGroup): number {
  const p = g.vars.ansible_group_priority;
  return typeof p === 'number' ? p : 1;
}

/** The `ansible-inventory --list` view (for comparing with Ansible). */
export function listView(inv: AnsibleInventory): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const hostvars: Record<string, unknown> = {};
  for (const h of inv.hosts.keys()) hostvars[h] = hostVars(inv, h).vars;
  out._meta = { hostvars };
  for (const g of inv.groups.values()) {
    const e: Record<string, unknown> = {};
    if (g.children.length) e.children = [...g.children];
    if (g.hosts.length && g.name !== 'all') e.hosts = [...g.hosts];
    if (g.name === 'all' || Object.keys(e).length) out[g.name] = e;
  }
  return out;
}

