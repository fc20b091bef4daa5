// Applies the OpenSSH client config (`ssh.config`, default ~/.ssh/config) to the inventory's hosts: values the inventory
// leaves unset are taken from the config, bastions (ProxyJump / `ssh.jump`) are resolved hop by hop, and config keywords
// that would weaken host authentication are refused with the file and line they are on.
import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import type { InputIssue } from '../errors.js';
import { isIpAddress } from '../yaml/validate.js';
import {
  parseProxyJump,
  parseSshTime,
  resolveSshConfig,
  type ConfigOrigin,
  type ConfigValue,
  type JumpHop,
  type ResolvedSshConfig,
} from './openssh-config.js';
import type { Host, JumpHost, SshSettings } from './types.js';

export interface SshConfigContext {
  /** Absolute path of the config file, or undefined for none. */
  file: string | undefined;
  home: string;
  localUser: string;
  env: Record<string, string | undefined>;
  /** Where `ssh.config` was set (for messages), or a note that it is the default. */
  setAt: string;
}

/** Fields of SshSettings the inventory set itself (host > group > inventory `ssh:`), with where. */
export type ExplicitSsh = Partial<Record<keyof SshSettings | 'jump', string>>;

export interface SshConfigResult {
  issues: InputIssue[];
  warnings: string[];
}

/** Config keywords certroll refuses (they weaken or bypass host authentication), with the reason and what to do. */
function securityProblems(r: ResolvedSshConfig): Array<{ level: 'error' | 'warning'; message: string; at: ConfigOrigin }> {
  const out: Array<{ level: 'error' | 'warning'; message: string; at: ConfigOrigin }> = [];
  const v = (k: string) => r.values.get(k);
  const shk = v('stricthostkeychecking');
  if (shk && ['no', 'off', 'false'].includes(shk.args[0]!.toLowerCase()))
    out.push({ level: 'error', at: shk.at, message: `StrictHostKeyChecking ${shk.args[0]} would accept any host key; certroll always checks known_hosts (use --accept-new-host-keys for new hosts), remove it for this host or set ssh.config: none` });
  else if (shk && shk.args[0]!.toLowerCase() === 'accept-new')
    out.push({ level: 'warning', at: shk.at, message: 'StrictHostKeyChecking accept-new is not applied: certroll adds unknown host keys only with --accept-new-host-keys' });
  const pc = v('proxycommand');
  if (pc && pc.args[0]!.toLowerCase() !== 'none')
    out.push({ level: 'error', at: pc.at, message: `ProxyCommand is not supported (certroll runs no local commands to connect): use ProxyJump, or ssh.jump in the inventory, for "${pc.raw}"` });
  for (const k of ['userknownhostsfile', 'globalknownhostsfile']) {
    const f = v(k);
    if (f && f.args.some((a) => a === '/dev/null'))
      out.push({ level: k === 'userknownhostsfile' ? 'error' : 'warning', at: f.at, message: `${k === 'userknownhostsfile' ? 'UserKnownHostsFile' : 'GlobalKnownHostsFile'} /dev/null ${k === 'userknownhostsfile' ? 'would accept any host key: set ssh.knownHostsFile in the inventory, or remove it for this host' : 'is ignored: certroll reads only the user known_hosts file'}` });
  }
  const hka = v('hostkeyalias');
  if (hka) out.push({ level: 'warning', at: hka.at, message: `HostKeyAlias ${hka.args[0]} is not supported: the host key is looked up under the address certroll connects to` });
  for (const k of ['ciphers', 'macs', 'kexalgorithms', 'hostkeyalgorithms']) {
    const a = v(k);
    if (a) out.push({ level: 'warning', at: a.at, message: `${k} is not applied: certroll uses ssh2's algorithm lists (host key algorithms follow known_hosts)` });
  }
  const fa = v('forwardagent');
  if (fa && !['no', 'false'].includes(fa.args[0]!.toLowerCase()))
    out.push({ level: 'warning', at: fa.at, message: 'ForwardAgent is ignored: certroll never forwards the agent' });
  const ct = v('controlmaster');
  if (ct && !['no', 'false'].includes(ct.args[0]!.toLowerCase()))
    out.push({ level: 'warning', at: ct.at, message: 'ControlMaster is ignored: certroll keeps its own connection per host' });
  return out;
}

/** Expand the tokens OpenSSH allows in IdentityFile / UserKnownHostsFile; undefined when one certroll cannot know. */
export function expandPathTokens(value: string, ctx: { home: string; localUser: string; host: string; original: string; user: string; port: number }): string | undefined {
  let bad = false;
  const out = value.replace(/%(.)/g, (_m, c: string) => {
    switch (c) {
      case '%': return '%';
      case 'd': return ctx.home;
      case 'u': return ctx.localUser;
      case 'h': return ctx.host;
      case 'n': return ctx.original;
      case 'r': return ctx.user;
      case 'p': return String(ctx.port);
      default:
        bad = true;
        return '';
    }
  });
  if (bad) return undefined;
  return out === '~' ? ctx.home : out.startsWith('~/') ? posix.join(ctx.home, out.slice(2)) : out;
}

function origin(at: ConfigOrigin): string {
  return `${at.file}:${at.line}`;
}

/** A resolved endpoint (host or hop) before the inventory's own values are laid over it. */
interface Endpoint {
  address: string;
  user?: { value: string; from: string };
  port?: { value: number; from: string };
  identityFile?: { value: string; from: string };
  identityFiles?: { value: string[]; from: string };
  knownHostsFile?: { value: string; from: string };
  connectTimeout?: { value: number; from: string };
  serverAliveInterval?: { value: number; from: string };
  identitiesOnly?: { value: boolean; from: string };
  proxyJump?: { value: string; from: string };
  addressFrom?: string;
}

function fromConfig(ctx: SshConfigContext, query: string, user: string | undefined, problems: (level: 'error' | 'warning', message: string, at?: ConfigOrigin) => void): Endpoint {
  const ep: Endpoint = { address: query };
  if (!ctx.file) return ep;
  const r = resolveSshConfig(ctx.file, query, { home: ctx.home, localUser: ctx.localUser, env: ctx.env, ...(user !== undefined ? { user } : {}) });
  for (const p of r.problems) problems(p.level, p.message, p.at);
  for (const p of securityProblems(r)) problems(p.level, p.message, p.at);
  const v = (k: string): ConfigValue | undefined => r.values.get(k);
  const hn = v('hostname');
  if (hn) {
    ep.address = r.hostname;
    ep.addressFrom = origin(hn.at);
  }
  const u = v('user');
  if (u && u.at.line > 0) ep.user = { value: u.args[0]!, from: origin(u.at) };
  const p = v('port');
  if (p) {
    const n = Number(p.args[0]);
    if (Number.isInteger(n) && n >= 1 && n <= 65535) ep.port = { value: n, from: origin(p.at) };
    else problems('error', `Port ${p.args[0]}: expected an integer 1-65535`, p.at);
  }
  const tok = { home: ctx.home, localUser: ctx.localUser, host: ep.address, original: query, user: ep.user?.value ?? user ?? ctx.localUser, port: ep.port?.value ?? 22 };
  const ids = r.lists.get('identityfile') ?? [];
  for (const id of ids) {
    if (id.args[0]!.toLowerCase() === 'none') continue;
    const f = expandPathTokens(id.args[0]!, tok);
    if (f === undefined) {
      problems('warning', `IdentityFile ${id.args[0]} uses a %-token certroll does not expand; skipped`, id.at);
      continue;
    }
    // OpenSSH skips identity files that do not exist and tries the others in order; so does certroll.
    if (!existsSync(f)) continue;
    if (!ep.identityFile) ep.identityFile = { value: f, from: origin(id.at) };
    else if (f !== ep.identityFile.value && !ep.identityFiles?.value.includes(f)) {
      ep.identityFiles ??= { value: [], from: origin(id.at) };
      ep.identityFiles.value.push(f);
    }
  }
  const kh = v('userknownhostsfile');
  if (kh && !kh.args.includes('/dev/null')) {
    const f = expandPathTokens(kh.args[0]!, tok);
    if (f === undefined) problems('error', `UserKnownHostsFile ${kh.args[0]} uses a %-token certroll does not expand`, kh.at);
    else {
      ep.knownHostsFile = { value: f, from: origin(kh.at) };
      if (kh.args.length > 1) problems('warning', `UserKnownHostsFile lists ${kh.args.length} files: certroll reads and writes only the first, ${f}`, kh.at);
    }
  }
  const ct = v('connecttimeout');
  if (ct && ct.args[0]!.toLowerCase() !== 'none') {
    const s = parseSshTime(ct.args[0]!);
    if (s && s > 0) ep.connectTimeout = { value: s, from: origin(ct.at) };
    else problems('error', `ConnectTimeout ${ct.args[0]}: expected a time in seconds`, ct.at);
  }
  const sa = v('serveraliveinterval');
  if (sa) {
    const s = parseSshTime(sa.args[0]!);
    if (s !== undefined) ep.serverAliveInterval = { value: s, from: origin(sa.at) };
    else problems('error', `ServerAliveInterval ${sa.args[0]}: expected a time in seconds`, sa.at);
  }
  const io = v('identitiesonly');
  if (io) ep.identitiesOnly = { value: ['yes', 'true'].includes(io.args[0]!.toLowerCase()), from: origin(io.at) };
  const pj = v('proxyjump');
  if (pj) ep.proxyJump = { value: pj.args.join(' '), from: origin(pj.at) };
  return ep;
}

/**
 * Lay the config under each host's explicit inventory values (inventory wins), and resolve its bastions.
 * Mutates hosts' `address` and `ssh`, fills `sshFrom` (where each setting came from); returns issues and warnings.
 */
export function applySshConfig(hosts: Host[], explicit: Map<string, ExplicitSsh>, ctx: SshConfigContext): SshConfigResult {
  const issues: InputIssue[] = [];
  const warnings: string[] = [];
  for (const h of hosts) {
    const ex = explicit.get(h.name) ?? {};
    const report = (level: 'error' | 'warning', message: string, at?: ConfigOrigin) => {
      if (level === 'error')
        issues.push({ file: at?.file ?? ctx.file ?? h.definedAt.file, ...(at?.line ? { line: at.line } : {}), path: `hosts.${h.name} (ssh config)`, message });
      else {
        const w = `${h.name}: ${message}${at ? ` (${origin(at)})` : ''}`;
        if (!warnings.includes(w)) warnings.push(w);
      }
    };
    const from: Record<string, string> = { ...(h.sshFrom ?? {}) };
    const ep = fromConfig(ctx, h.address, ex.user ? h.ssh.user : undefined, report);
    if (ep.addressFrom) {
      from.address = `HostName at ${ep.addressFrom} (for ${h.address})`;
      // An IP taken from the old address (not set in the inventory) follows the address to its HostName.
      if (h.ip === undefined || h.ip === h.address) h.ip = isIpAddress(ep.address) ? ep.address : undefined;
      h.address = ep.address;
    }
    const take = <K extends keyof SshSettings>(k: K, got: { value: SshSettings[K]; from: string } | undefined) => {
      if (ex[k]) from[k] = ex[k]!;
      else if (got) {
        h.ssh[k] = got.value;
        from[k] = got.from;
      }
    };
    take('user', ep.user);
    take('port', ep.port);
    take('identityFile', ep.identityFile);
    // The config's further identity files only follow its own first one (an inventory identityFile stands alone).
    if (!ex.identityFile && ep.identityFiles) {
      h.ssh.identityFiles = ep.identityFiles.value;
      from.identityFiles = ep.identityFiles.from;
    }
    take('knownHostsFile', ep.knownHostsFile);
    take('connectTimeout', ep.connectTimeout);
    take('serverAliveInterval', ep.serverAliveInterval);
    take('identitiesOnly', ep.identitiesOnly);
    // Bastions: the inventory's ssh.jump, else the config's ProxyJump.
    const jumpSpec = ex.jump ? { value: h.ssh.jumpSpec ?? '', from: ex.jump } : ep.proxyJump;
    if (jumpSpec && jumpSpec.value !== '') {
      const hops = resolveJump(jumpSpec.value, jumpSpec.from, h, ctx, report, 0);
      if (hops) {
        h.ssh.jumps = hops;
        from.jump = jumpSpec.from;
      }
    } else delete h.ssh.jumps;
    h.sshFrom = from;
  }
  return { issues, warnings };
}

function resolveJump(spec: string, from: string, h: Host, ctx: SshConfigContext, report: (level: 'error' | 'warning', message: string, at?: ConfigOrigin) => void, depth: number): JumpHost[] | undefined {
  const hops = parseProxyJump(spec);
  if (!hops) {
    report('error', `jump ${JSON.stringify(spec)} (${from}): expected [user@]host[:port], several separated by commas, or none`);
    return undefined;
  }
  if (depth > 8) {
    report('error', `jump hosts nest more than 8 deep (${from}): is there a ProxyJump loop?`);
    return undefined;
  }
  const out: JumpHost[] = [];
  for (const [i, hop] of hops.entries()) {
    const ep = fromConfig(ctx, hop.host, hop.user, report);
    // The first hop's own ProxyJump (from the config) comes before it, as with OpenSSH.
    if (i === 0 && ep.proxyJump && ep.proxyJump.value.toLowerCase() !== 'none') {
      const before = resolveJump(ep.proxyJump.value, ep.proxyJump.from, h, ctx, report, depth + 1);
      if (!before) return undefined;
      out.push(...before);
    }
    out.push(jumpHost(hop, ep, h, from));
  }
  return out;
}

function jumpHost(hop: JumpHop, ep: Endpoint, h: Host, from: string): JumpHost {
  return {
    name: `${hop.user ? hop.user + '@' : ''}${hop.host}${hop.port ? ':' + hop.port : ''}`,
    address: ep.address,
    port: hop.port ?? ep.port?.value ?? 22,
    user: hop.user ?? ep.user?.value ?? h.ssh.user,
    ...(ep.identityFile ? { identityFile: ep.identityFile.value } : h.ssh.identityFile ? { identityFile: h.ssh.identityFile } : {}),
    ...(ep.identityFile ? (ep.identityFiles ? { identityFiles: ep.identityFiles.value } : {}) : h.ssh.identityFiles ? { identityFiles: h.ssh.identityFiles } : {}),
    knownHostsFile: ep.knownHostsFile?.value ?? h.ssh.knownHostsFile,
    connectTimeout: ep.connectTimeout?.value ?? h.ssh.connectTimeout,
    identitiesOnly: ep.identitiesOnly?.value ?? false,
    from,
  };
}
