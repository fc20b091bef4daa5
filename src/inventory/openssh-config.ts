// Reads OpenSSH client configuration files (ssh_config(5)) and resolves the options for one destination the way OpenSSH 9.2 does.
//
// Pure apart from reading the config files (through `SshConfigSource`, so tests can feed their own).
// Semantics mirrored from OpenSSH's readconf.c / ssh.c:
// - the first obtained value of a keyword wins; IdentityFile (and CertificateFile) accumulate;
// - `Host` patterns match the name as typed, case-sensitively; one matching `!pattern` vetoes the line;
// - `Match host|originalhost|user|localuser|all|final|canonical` (with `!` negation); `Match exec|localnetwork|tagged`
//   are refused (certroll runs no local commands and does no network probing to read a config);
// - `Include` paths are relative to ~/.ssh, globbed and sorted; the match state of the Include line is restored after it;
// - a second, final pass runs when a `Match final` was seen or CanonicalizeHostname is on; it matches `Host` against the
//   resolved host name and only fills options not set yet;
// - CanonicalizeHostname is refused when it would need a DNS lookup (OpenSSH's answer depends on the resolver then);
// - unknown keywords are errors ("Bad configuration option") unless IgnoreUnknown covers them.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where an option value was read: the file and its 1-based line. */
export interface ConfigOrigin {
  file: string;
  line: number;
}

export interface ConfigValue {
  /** Arguments as OpenSSH splits them (quotes removed). */
  args: string[];
  /** For keywords that take the rest of the line verbatim (ProxyCommand). */
  raw: string;
  at: ConfigOrigin;
}

export interface ConfigProblem {
  level: 'error' | 'warning';
  /** `refused`: OpenSSH would accept it but certroll will not guess (needs DNS, runs commands…). */
  kind: 'syntax' | 'refused' | 'security' | 'ignored' | 'openssh';
  message: string;
  at?: ConfigOrigin;
}

export interface ResolvedSshConfig {
  /** The destination as given (without a user@ prefix). */
  query: string;
  /** First obtained value per keyword (lower case); accumulating keywords keep every value in `lists`. */
  values: Map<string, ConfigValue>;
  lists: Map<string, ConfigValue[]>;
  /** Host name after `%h` expansion and lower-casing (OpenSSH's `hostname`). */
  hostname: string;
  problems: ConfigProblem[];
}

/** File access for the resolver (tests give their own; the default reads the real disk). */
export interface SshConfigSource {
  readFile(file: string): string | undefined;
  /** Entries of a directory (names only), undefined when it is not a readable directory. */
  readDir(dir: string): string[] | undefined;
}

export const diskSource: SshConfigSource = {
  readFile(file) {
    try {
      if (!fs.statSync(file).isFile()) return undefined;
      return fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  },
  readDir(dir) {
    try {
      return fs.readdirSync(dir);
    } catch {
      return undefined;
    }
  },
};

export interface ResolveOptions {
  /** The home directory (`~`); Include paths are relative to `<home>/.ssh`. */
  home: string;
  /** Local user name (default `User`, `Match localuser`). */
  localUser: string;
  /** Environment for `${VAR}` in the keywords where OpenSSH expands it. */
  env: Record<string, string | undefined>;
  /** User given with the destination (`user@host`): it comes first, as on ssh's command line. */
  user?: string;
  source?: SshConfigSource;
}

// Every keyword OpenSSH 9.2 (Debian build) knows. Values: 'ok' normal, 'deprecated'/'unsupported' accepted and ignored by OpenSSH.
const deprecated = [
  'fallbacktorsh', 'globalknownhostsfile2', 'rhostsauthentication', 'userknownhostsfile2', 'useroaming', 'usersh',
  'useprivilegedport', 'afstokenpassing', 'kerberosauthentication', 'kerberostgtpassing', 'rsaauthentication',
  'rhostsrsaauthentication', 'compressionlevel', 'protocol', 'cipher', 'skeyauthentication', 'tisauthentication',
];
const known = [
  'host', 'match', 'include', 'ignoreunknown',
  'forwardagent', 'forwardx11', 'forwardx11trusted', 'forwardx11timeout', 'exitonforwardfailure', 'xauthlocation',
  'gatewayports', 'passwordauthentication', 'kbdinteractiveauthentication', 'kbdinteractivedevices',
  'challengeresponseauthentication', 'pubkeyauthentication', 'dsaauthentication', 'hostbasedauthentication',
  'identityfile', 'identityfile2', 'identitiesonly', 'certificatefile', 'addkeystoagent', 'identityagent', 'hostname',
  'hostkeyalias', 'proxycommand', 'port', 'ciphers', 'macs', 'remoteforward', 'localforward', 'permitremoteopen', 'user',
  'escapechar', 'globalknownhostsfile', 'userknownhostsfile', 'connectionattempts', 'batchmode', 'checkhostip',
  'stricthostkeychecking', 'compression', 'tcpkeepalive', 'keepalive', 'numberofpasswordprompts', 'syslogfacility',
  'loglevel', 'logverbose', 'dynamicforward', 'preferredauthentications', 'hostkeyalgorithms', 'casignaturealgorithms',
  'bindaddress', 'bindinterface', 'clearallforwardings', 'enablesshkeysign', 'verifyhostkeydns',
  'nohostauthenticationforlocalhost', 'rekeylimit', 'connecttimeout', 'addressfamily', 'serveraliveinterval',
  'serveralivecountmax', 'sendenv', 'setenv', 'controlpath', 'controlmaster', 'controlpersist', 'hashknownhosts',
  'tunnel', 'tunneldevice', 'localcommand', 'permitlocalcommand', 'remotecommand', 'visualhostkey', 'kexalgorithms',
  'ipqos', 'requesttty', 'sessiontype', 'stdinnull', 'forkafterauthentication', 'proxyusefdpass', 'canonicaldomains',
  'canonicalizefallbacklocal', 'canonicalizehostname', 'canonicalizemaxdots', 'canonicalizepermittedcnames',
  'streamlocalbindmask', 'streamlocalbindunlink', 'revokedhostkeys', 'fingerprinthash', 'updatehostkeys',
  'hostbasedacceptedalgorithms', 'hostbasedkeytypes', 'pubkeyacceptedalgorithms', 'pubkeyacceptedkeytypes',
  'proxyjump', 'securitykeyprovider', 'knownhostscommand', 'requiredrsasize', 'enableescapecommandline',
  'pkcs11provider', 'smartcarddevice', 'gssapiauthentication', 'gssapidelegatecredentials', 'gssapikeyexchange',
  'gssapiclientidentity', 'gssapiserveridentity', 'gssapirenewalforcesrekey', 'gssapitrustdns', 'gssapikexalgorithms',
  'protocolkeepalives', 'setuptimeout',
];
const knownKeywords = new Set([...known, ...deprecated]);
const aliases: Record<string, string> = {
  identityfile2: 'identityfile',
  dsaauthentication: 'pubkeyauthentication',
  hostbasedkeytypes: 'hostbasedacceptedalgorithms',
  pubkeyacceptedkeytypes: 'pubkeyacceptedalgorithms',
  challengeresponseauthentication: 'kbdinteractiveauthentication',
  keepalive: 'tcpkeepalive',
  protocolkeepalives: 'serveraliveinterval',
  setuptimeout: 'connecttimeout',
};
/** Keywords whose every value counts (in order), not just the first. */
const accumulating = new Set(['identityfile', 'certificatefile', 'localforward', 'remoteforward', 'dynamicforward', 'sendenv', 'permitremoteopen']);
/** Keywords in which OpenSSH expands `${VAR}` (and fails when VAR is unset). */
const envExpanded = new Set(['controlpath', 'identityagent', 'identityfile', 'certificatefile', 'knownhostscommand', 'userknownhostsfile', 'localforward', 'remoteforward']);

/** Split a line's arguments like OpenSSH's argv_split(…, terminate_on_comment=1): quotes group, `\` escapes, `#` starts a comment. */
export function splitArgs(s: string): string[] | 'bad-quotes' {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) break;
    if (s[i] === '#') break;
    let word = '';
    let quote: string | undefined;
    for (; i < s.length; i++) {
      const c = s[i]!;
      if (quote === undefined && /\s/.test(c)) break;
      if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === "'" || s[i + 1] === '\\' || (quote === undefined && s[i + 1] === ' '))) {
        word += s[i + 1];
        i++;
      } else if (quote === undefined && (c === '"' || c === "'")) quote = c;
      else if (quote !== undefined && c === quote) quote = undefined;
      else word += c;
    }
    if (quote !== undefined) return 'bad-quotes';
    out.push(word);
  }
  return out;
}

/** OpenSSH's strdelim: one token, delimited by whitespace or a single `=`; a leading `"` quotes up to the next `"`. */
function strdelim(s: string): { token: string; rest: string } | undefined {
  let i = 0;
  while (i < s.length && /[ \t]/.test(s[i]!)) i++;
  if (i >= s.length) return undefined;
  let token: string;
  if (s[i] === '"') {
    const end = s.indexOf('"', i + 1);
    if (end < 0) return undefined;
    token = s.slice(i + 1, end);
    i = end + 1;
  } else {
    const m = /^[^ \t=]*/.exec(s.slice(i))!;
    token = m[0];
    i += token.length;
  }
  while (i < s.length && /[ \t]/.test(s[i]!)) i++;
  if (s[i] === '=') {
    i++;
    while (i < s.length && /[ \t]/.test(s[i]!)) i++;
  }
  return { token, rest: s.slice(i) };
}

/** OpenSSH's match_pattern: `*` any run, `?` one character; case-sensitive. */
export function matchPattern(s: string, pattern: string): boolean {
  let re = '^';
  for (const c of pattern) re += c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  return new RegExp(re + '$', 's').test(s);
}

/** OpenSSH's match_pattern_list: comma list; a matching `!p` → -1, else 1 when a positive one matched, else 0. */
export function matchPatternList(s: string, list: string, lower: boolean): -1 | 0 | 1 {
  let got: 0 | 1 = 0;
  for (let p of list.split(',')) {
    const neg = p.startsWith('!');
    if (neg) p = p.slice(1);
    if (lower) p = p.toLowerCase();
    if (matchPattern(s, p)) {
      if (neg) return -1;
      got = 1;
    }
  }
  return got;
}

function isIpLiteral(h: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(h) || (h.includes(':') && /^[0-9a-fA-F:.]+$/.test(h));
}

interface PassState {
  opts: ResolveOptions;
  source: SshConfigSource;
  /** Name `Host` lines are matched against (the name as typed; the resolved host name in the final pass). */
  host: string;
  originalHost: string;
  finalPass: boolean;
  wantFinal: boolean;
  values: Map<string, ConfigValue>;
  lists: Map<string, ConfigValue[]>;
  problems: ConfigProblem[];
  badOptions: Map<string, number>;
  /** OpenSSH stopped reading (a file ended with bad options). */
  fatal: boolean;
}

/** OpenSSH's readconf "first obtained value wins" with its ProxyJump/ProxyCommand exclusion. */
function obtain(st: PassState, keyword: string, v: ConfigValue): void {
  if (accumulating.has(keyword)) {
    const l = st.lists.get(keyword) ?? [];
    if (keyword === 'identityfile' && l.some((x) => x.args[0] === v.args[0])) return;
    l.push(v);
    st.lists.set(keyword, l);
    return;
  }
  if ((keyword === 'proxyjump' || keyword === 'proxycommand') && (st.values.has('proxyjump') || st.values.has('proxycommand'))) return;
  if (!st.values.has(keyword)) st.values.set(keyword, v);
}

function expandTilde(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.join(home, p.slice(2));
  return p;
}

/** Glob with `*`, `?` and `[…]` in any path component; results sorted like glob(3). */
function globPath(pattern: string, source: SshConfigSource): string[] {
  if (!/[*?[]/.test(pattern)) return source.readFile(pattern) !== undefined ? [pattern] : [];
  const parts = pattern.split('/');
  let bases = [parts[0] === '' ? '/' : '.'];
  for (let i = parts[0] === '' ? 1 : 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '') continue;
    const next: string[] = [];
    for (const b of bases) {
      if (!/[*?[]/.test(part)) {
        next.push(path.join(b, part));
        continue;
      }
      const re = new RegExp('^' + part.replace(/[.+^${}()|\\/]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
      for (const e of (source.readDir(b) ?? []).sort()) if (!e.startsWith('.') && re.test(e)) next.push(path.join(b, e));
    }
    bases = next;
  }
  return bases.filter((b) => source.readFile(b) !== undefined).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function problem(st: PassState, level: ConfigProblem['level'], kind: ConfigProblem['kind'], message: string, at?: ConfigOrigin): void {
  if (st.problems.some((p) => p.message === message && p.at?.file === at?.file && p.at?.line === at?.line)) return;
  st.problems.push({ level, kind, message, ...(at ? { at } : {}) });
}

/** Evaluate a `Match` line (false, with a problem reported, when it uses a criterion certroll refuses). */
function matchLine(st: PassState, rest: string, at: ConfigOrigin): boolean {
  const hn = st.values.get('hostname');
  const host = st.finalPass ? st.host : hn ? expandHostname(hn.args[0]!, st.originalHost) : st.originalHost;
  const user = st.values.get('user')?.args[0] ?? st.opts.user ?? st.opts.localUser;
  let result = true;
  let s = rest;
  let first = true;
  for (;;) {
    const t = strdelim(s);
    if (!t || t.token === '' || t.token.startsWith('#')) break;
    s = t.rest;
    let attr = t.token.toLowerCase();
    const negate = attr.startsWith('!');
    if (negate) attr = attr.slice(1);
    if (attr === 'all') {
      if (!first || (strdelim(s)?.token ?? '') !== '') {
        // `all` must be alone (or after canonical/final); OpenSSH rejects anything else.
        if (!first) {
          problem(st, 'error', 'syntax', `${at.file} line ${at.line}: Match all must appear alone`, at);
          return false;
        }
      }
      if (negate) result = false;
      first = false;
      continue;
    }
    first = false;
    if (attr === 'canonical' || attr === 'final') {
      if (attr === 'final') st.wantFinal = true;
      const r = st.finalPass;
      if (r === negate) result = false;
      continue;
    }
    const arg = strdelim(s);
    if (!arg || arg.token === '') {
      problem(st, 'error', 'syntax', `${at.file} line ${at.line}: Match ${attr} needs an argument`, at);
      return false;
    }
    s = arg.rest;
    let r: boolean;
    switch (attr) {
      case 'host':
        r = matchPatternList(host.toLowerCase(), arg.token, true) === 1;
        break;
      case 'originalhost':
        r = matchPatternList(st.originalHost.toLowerCase(), arg.token, true) === 1;
        break;
      case 'user':
        r = matchPatternList(user, arg.token, false) === 1;
        break;
      case 'localuser':
        r = matchPatternList(st.opts.localUser, arg.token, false) === 1;
        break;
      case 'exec':
      case 'localnetwork':
        if (!result) continue; // OpenSSH skips exec once an earlier criterion failed; so can we
        problem(st, 'error', 'refused', `${at.file} line ${at.line}: Match ${attr} is not supported by certroll (it would run a local command or probe the network); use Host or Match host/user, or ssh.config: none`, at);
        return false;
      default:
        problem(st, 'error', 'syntax', `${at.file} line ${at.line}: unsupported Match attribute ${attr}`, at);
        return false;
    }
    if (r === negate) result = false;
  }
  return result;
}

/** `HostName` value with OpenSSH's `%h` / `%%` expansion. */
export function expandHostname(value: string, host: string): string {
  return value.replace(/%(.)/g, (_m, c: string) => (c === 'h' ? host : c === '%' ? '%' : `%${c}`));
}

function readFileInto(st: PassState, file: string, display: string, active: boolean, neverMatch: boolean, depth: number): boolean {
  const text = st.source.readFile(file);
  if (text === undefined) return active;
  const lines = text.split('\n');
  let act = active;
  for (let i = 0; i < lines.length; i++) {
    const at = { file: display, line: i + 1 };
    if (st.fatal) return act;
    act = processLine(st, lines[i]!, at, act, neverMatch, depth);
  }
  const bad = st.badOptions.get(display);
  if (bad && !st.fatal) {
    st.fatal = true;
    problem(st, 'error', 'openssh', `${display}: terminating, ${bad} bad configuration options`);
  }
  return act;
}

/** One config line; returns the new "active" state. */
function processLine(st: PassState, rawLine: string, at: ConfigOrigin, active: boolean, neverMatch: boolean, depth: number): boolean {
  const line = rawLine.replace(/[ \t\r\n\f]+$/, '');
  const kw = strdelim(line);
  if (!kw || kw.token === '' || kw.token.startsWith('#')) return active;
  let keyword = kw.token.toLowerCase();
  const rest = kw.rest.replace(/^[ \t]+/, '');
  if (rest === '') {
    problem(st, 'error', 'openssh', `${at.file}: line ${at.line}: no argument after keyword "${keyword}"`, at);
    return active;
  }
  if (!knownKeywords.has(keyword)) {
    const ign = st.values.get('ignoreunknown');
    if (ign && matchPatternList(keyword, ign.args.join(','), true) === 1) return active;
    problem(st, 'error', 'openssh', `${at.file}: line ${at.line}: Bad configuration option: ${keyword}`, at);
    st.badOptions.set(at.file, (st.badOptions.get(at.file) ?? 0) + 1);
    return active;
  }
  if (keyword === 'match') {
    if (neverMatch) return false;
    return matchLine(st, rest, at);
  }
  const args = splitArgs(rest);
  if (args === 'bad-quotes') {
    problem(st, 'error', 'openssh', `${at.file} line ${at.line}: invalid quotes`, at);
    return active;
  }
  if (keyword === 'host') {
    if (neverMatch) return false;
    let matched = false;
    for (const p of args) {
      if (p.startsWith('!')) {
        if (matchPattern(st.host, p.slice(1))) return false;
      } else if (matchPattern(st.host, p)) matched = true;
    }
    return matched;
  }
  if (keyword === 'include') {
    if (depth >= 16) {
      problem(st, 'error', 'openssh', `${at.file} line ${at.line}: Include nesting too deep`, at);
      return active;
    }
    for (const a of args) {
      const p = a.startsWith('/') || a.startsWith('~') ? expandTilde(a, st.opts.home) : path.join(st.opts.home, '.ssh', a);
      for (const f of globPath(p, st.source)) {
        const disp = f.startsWith(st.opts.home + '/') ? '~' + f.slice(st.opts.home.length) : f;
        readFileInto(st, f, disp, active, neverMatch || !active, depth + 1);
      }
    }
    return active;
  }
  if (keyword in aliases) keyword = aliases[keyword]!;
  if (deprecated.includes(keyword)) return active;
  if (!active) {
    // OpenSSH expands ${VAR} in forwardings while parsing, active or not.
    if ((keyword === 'localforward' || keyword === 'remoteforward') && !envOk(st, args.join(' '), at)) return active;
    return active;
  }
  if (envExpanded.has(keyword) && !(accumulating.has(keyword) ? false : st.values.has(keyword)) && !envOk(st, args.join(' '), at)) return active;
  const raw = rest;
  obtain(st, keyword, { args, raw, at });
  return active;
}

function envOk(st: PassState, value: string, at: ConfigOrigin): boolean {
  for (const m of value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
    if (st.opts.env[m[1]!] === undefined) {
      problem(st, 'error', 'openssh', `${at.file} line ${at.line}: env var \${${m[1]}} has no value`, at);
      return false;
    }
  }
  return true;
}

function yes(v: ConfigValue | undefined): boolean | undefined {
  if (!v) return undefined;
  const a = v.args[0]!.toLowerCase();
  return a === 'yes' || a === 'true' || a === 'always';
}

/**
 * Resolve the options OpenSSH would use for `destination` (optionally `user@host`) with config `file`.
 * Problems (OpenSSH errors, refusals, security warnings) are collected in `problems`, never thrown.
 */
export function resolveSshConfig(file: string, destination: string, opts: ResolveOptions): ResolvedSshConfig {
  let query = destination;
  let user = opts.user;
  const atSign = destination.lastIndexOf('@');
  if (atSign > 0) {
    user ??= destination.slice(0, atSign);
    query = destination.slice(atSign + 1);
  }
  const o: ResolveOptions = { ...opts, ...(user !== undefined ? { user } : {}) };
  const source = opts.source ?? diskSource;
  const display = file.startsWith(opts.home + '/') ? '~' + file.slice(opts.home.length) : file;
  const st: PassState = {
    opts: o,
    source,
    host: query,
    originalHost: query,
    finalPass: false,
    wantFinal: false,
    values: new Map(),
    lists: new Map(),
    problems: [],
    badOptions: new Map(),
    fatal: false,
  };
  if (user !== undefined) st.values.set('user', { args: [user], raw: user, at: { file: '(destination)', line: 0 } });
  readFileInto(st, file, display, true, false, 0);
  if (st.badOptions.size === 0) {
    let host = query;
    const hn = st.values.get('hostname');
    if (hn) host = expandHostname(hn.args[0]!, query);
    const canon = st.values.get('canonicalizehostname')?.args[0]?.toLowerCase();
    const canonOn = canon !== undefined && canon !== 'no' && canon !== 'false';
    if (canonOn && !isIpLiteral(host)) {
      const proxied = st.values.has('proxycommand') && st.values.get('proxycommand')!.args[0]!.toLowerCase() !== 'none';
      const maxDots = Number(st.values.get('canonicalizemaxdots')?.args[0] ?? 1);
      const dots = host.split('.').length - 1;
      const eligible = !(proxied && canon !== 'always') && !host.endsWith('.') && dots <= maxDots;
      const domains = st.values.get('canonicaldomains')?.args ?? [];
      const cv = st.values.get('canonicalizehostname')!;
      if (eligible && domains.length > 0 && !domains.every((d) => d.toLowerCase() === 'none')) {
        problem(
          st,
          'error',
          'refused',
          `${cv.at.file} line ${cv.at.line}: CanonicalizeHostname would look "${host}" up in DNS (CanonicalDomains ${domains.join(' ')}); certroll does not guess OpenSSH's answer: give the host a HostName with enough dots, or set ssh.config: none`,
          cv.at,
        );
      } else if (eligible && yes(st.values.get('canonicalizefallbacklocal')) === false) {
        problem(st, 'error', 'openssh', `Could not resolve host "${host}" (CanonicalizeFallbackLocal no)`, cv.at);
      }
      st.wantFinal = true;
    }
    if (st.wantFinal && !st.problems.some((p) => p.level === 'error')) {
      st.finalPass = true;
      st.host = host.toLowerCase();
      if (!st.values.has('hostname')) st.values.set('hostname', { args: [st.host], raw: st.host, at: hn?.at ?? { file: '(destination)', line: 0 } });
      else st.values.set('hostname', { ...st.values.get('hostname')!, args: [st.host] });
      readFileInto(st, file, display, true, false, 0);
    }
  }
  jumpLoop(st);
  const hv = st.values.get('hostname');
  const hostname = (hv ? (st.finalPass ? hv.args[0]! : expandHostname(hv.args[0]!, query)) : query).toLowerCase();
  return { query, values: st.values, lists: st.lists, hostname, problems: st.problems };
}

/** OpenSSH refuses a last jump hop equal to the destination (same host, user and port). */
function jumpLoop(st: PassState): void {
  const pj = st.values.get('proxyjump');
  if (!pj || st.problems.some((p) => p.level === 'error')) return;
  const hops = parseProxyJump(pj.args.join(' '));
  const last = hops?.[hops.length - 1];
  if (!last) return;
  const hv = st.values.get('hostname');
  const host = (hv ? expandHostname(hv.args[0]!, st.originalHost) : st.originalHost).toLowerCase();
  const port = Number(st.values.get('port')?.args[0] ?? 22);
  const user = st.values.get('user')?.args[0] ?? st.opts.localUser;
  if (last.host.toLowerCase() === host && (last.port ?? 22) === port && (last.user ?? user) === user)
    problem(st, 'error', 'openssh', `jumphost loop via ${last.host}`, pj.at);
}

/** One hop of a ProxyJump list: `[user@]host[:port]` (or `ssh://[user@]host[:port]`). */
export interface JumpHop {
  user?: string;
  host: string;
  port?: number;
}

/** Parse a ProxyJump value; `none` → []; undefined when malformed. */
export function parseProxyJump(value: string): JumpHop[] | undefined {
  if (value.toLowerCase() === 'none') return [];
  const hops: JumpHop[] = [];
  for (let h of value.split(',')) {
    h = h.trim();
    if (h.startsWith('ssh://')) h = h.slice(6);
    if (h === '') return undefined;
    let user: string | undefined;
    const at = h.lastIndexOf('@');
    if (at >= 0) {
      user = h.slice(0, at);
      h = h.slice(at + 1);
      if (user === '') return undefined;
    }
    let port: number | undefined;
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(h) ?? /^([^:]+)(?::(\d+))?$/.exec(h);
    if (!m) return undefined;
    if (m[2] !== undefined) {
      port = Number(m[2]);
      if (!(port >= 1 && port <= 65535)) return undefined;
    }
    hops.push({ ...(user !== undefined ? { user } : {}), host: m[1]!, ...(port !== undefined ? { port } : {}) });
  }
  return hops;
}

/** Parse an OpenSSH time value (`30`, `1m30s`, `2h`) into seconds; undefined when malformed. */
export function parseSshTime(value: string): number | undefined {
  if (/^\d+$/.test(value)) return Number(value);
  const re = /(\d+)([sSmMhHdDwW])/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(value))) {
    const mult = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2]!.toLowerCase() as 's']!;
    total += Number(m[1]) * mult;
    consumed = re.lastIndex;
  }
  return consumed === value.length && consumed > 0 ? total : undefined;
}

/** The keys of `ssh -G` that certroll reads from a config (and that the corpus test compares). */
export const comparedKeys = [
  'hostname', 'user', 'port', 'identityfile', 'proxyjump', 'proxycommand', 'userknownhostsfile',
  'stricthostkeychecking', 'connecttimeout', 'serveraliveinterval', 'identitiesonly',
];

const defaultIdentityFiles = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'].map((f) => `~/.ssh/${f}`);

/** The resolved options printed as `ssh -G` prints them (for the keys in `comparedKeys`). */
export function sshGView(r: ResolvedSshConfig, ctx: { home: string }): string[] {
  const out: string[] = [];
  const first = (k: string) => r.values.get(k);
  out.push(`user ${first('user')?.args[0] ?? '$LOCALUSER'}`);
  out.push(`hostname ${r.hostname}`);
  out.push(`port ${first('port')?.args[0] ?? 22}`);
  const ids = r.lists.get('identityfile') ?? [];
  for (const f of ids.length ? ids.map((v) => v.args[0]!) : defaultIdentityFiles) out.push(`identityfile ${f}`);
  const pj = first('proxyjump');
  const pc = first('proxycommand');
  if (pj && pj.args[0]!.toLowerCase() !== 'none') out.push(`proxyjump ${pj.args.join(' ')}`);
  if (pc && pc.args[0]!.toLowerCase() !== 'none') out.push(`proxycommand ${pc.raw}`);
  const kh = first('userknownhostsfile')?.args ?? ['~/.ssh/known_hosts', '~/.ssh/known_hosts2'];
  out.push(`userknownhostsfile ${kh.map((f) => (f.startsWith(ctx.home + '/') ? '~' + f.slice(ctx.home.length) : f)).join(' ')}`);
  const shk = first('stricthostkeychecking')?.args[0]?.toLowerCase();
  const shkNorm = shk === undefined ? 'ask' : ['yes', 'true'].includes(shk) ? 'true' : ['no', 'false', 'off'].includes(shk) ? 'false' : shk;
  out.push(`stricthostkeychecking ${shkNorm}`);
  const ct = first('connecttimeout')?.args[0];
  out.push(`connecttimeout ${ct === undefined || ct === 'none' ? 'none' : parseSshTime(ct)}`);
  const sa = first('serveraliveinterval')?.args[0];
  out.push(`serveraliveinterval ${sa === undefined ? 0 : parseSshTime(sa)}`);
  const io = first('identitiesonly')?.args[0]?.toLowerCase();
  out.push(`identitiesonly ${io === 'yes' || io === 'true' ? 'yes' : 'no'}`);
  return out;
}
