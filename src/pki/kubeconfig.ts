// Reads a kubeconfig's text (users, their client credentials, the current context) and rewrites one user's embedded client
// certificate and key in place, every other byte unchanged, with a proof of it. Pure: no I/O; key material stays in Secrets.
import { createHash } from 'node:crypto';
import { EVENT_ID, getScalarValue, parseEvents, SCALAR_STYLE, YAMLException, type Event, type ScalarEvent } from 'js-yaml';
import { InputError, type InputIssue } from '../errors.js';
import { Secret } from '../secret.js';
import { formatPath, type YamlPath } from '../yaml/located.js';
import { classifyPem, parseCertificates, type ParsedCert } from './parse.js';
import { scanPem } from './der.js';

/** Bad kubeconfig text: every issue names the file, line, column and YAML path. Never contains a value. */
export class KubeconfigError extends InputError {
  override name = 'KubeconfigError';
  constructor(issues: InputIssue[], readonly file: string) {
    super(issues, `${file}: not a usable kubeconfig`);
  }
}

/** Where a scalar value is written: its source range (quotes excluded, as js-yaml gives it) and 1-based line/column. */
export interface ValueSpan {
  start: number;
  end: number;
  line: number;
  column: number;
  style: 'plain' | 'single-quoted' | 'double-quoted' | 'literal' | 'folded';
}

/** An embedded client certificate (`client-certificate-data`), decoded. */
export interface EmbeddedCert {
  kind: 'data';
  /** The decoded PEM text (as the file holds it, base64-decoded). */
  pem: string;
  /** The first certificate of the PEM. */
  cert: ParsedCert;
  /** sha256 of the first certificate's DER, lowercase hex: what identifies "the same certificate". */
  derSha256: string;
  at: ValueSpan;
}

/** An embedded client key (`client-key-data`), decoded: a Secret, never printed. */
export interface EmbeddedKey {
  kind: 'data';
  pem: Secret<string>;
  at: ValueSpan;
}

/** A credential named by file (`client-certificate:` / `client-key:`). */
export interface FileRef {
  kind: 'file';
  path: string;
  at: ValueSpan;
}

/** Other ways a user authenticates (none of them a client certificate). */
export type OtherCredential = 'token' | 'tokenFile' | 'exec' | 'auth-provider' | 'username' | 'password';

export interface KubeconfigUser {
  name: string;
  /** 0-based position in `users:`. */
  index: number;
  /** 1-based line of the entry. */
  line: number;
  clientCertificate?: EmbeddedCert | FileRef;
  clientKey?: EmbeddedKey | FileRef;
  other: OtherCredential[];
  /**
   * `embedded`: certificate and key both embedded; `file`: both named by file; `mixed`: one of each; `partial`: only one
   * of the two; `other`: token, exec, auth provider or basic auth (neither); `none`: no credential at all.
   */
  credential: 'embedded' | 'file' | 'mixed' | 'partial' | 'other' | 'none';
}

export interface KubeconfigCurrent {
  context: string;
  user?: string;
  cluster?: string;
  /** The cluster's `server:`. */
  server?: string;
  /** The cluster's `certificate-authority-data`, decoded (PEM text). */
  certificateAuthorityPem?: string;
  /** The cluster's `certificate-authority:` file, when it names one. */
  certificateAuthorityFile?: string;
  /** Why the context, its user or its cluster could not be resolved (kubectl would fail with this file). */
  unresolved?: string;
}

export interface Kubeconfig {
  file: string;
  users: KubeconfigUser[];
  /** Cluster and context names, in file order. */
  clusters: string[];
  contexts: string[];
  /** Absent when the file sets no `current-context`. */
  current?: KubeconfigCurrent;
}

/** The text may be a Secret: a kubeconfig with embedded keys is one. */
type Text = string | Secret<string>;
const textOf = (t: Text) => (typeof t === 'string' ? t : t.reveal());

// ---- a tiny tree of the YAML with source positions -------------------------------------------------------------------------

type Node =
  | { t: 'scalar'; value: string; ev: ScalarEvent; offset: number }
  | { t: 'map'; entries: Array<{ key: string; keyOffset: number; value: Node }>; offset: number }
  | { t: 'seq'; items: Node[]; offset: number }
  | { t: 'alias'; offset: number };

const STYLE_NAMES: Record<number, ValueSpan['style']> = {
  [SCALAR_STYLE.PLAIN]: 'plain',
  [SCALAR_STYLE.SINGLE_QUOTED]: 'single-quoted',
  [SCALAR_STYLE.DOUBLE_QUOTED]: 'double-quoted',
  [SCALAR_STYLE.LITERAL_BLOCK]: 'literal',
  [SCALAR_STYLE.FOLDED_BLOCK]: 'folded',
};

class Lines {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  at(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.starts[lo]! + 1 };
  }
}

interface Parsed {
  root: Node | undefined;
  lines: Lines;
  text: string;
}

class Issues {
  readonly list: InputIssue[] = [];
  constructor(
    readonly file: string,
    readonly lines: Lines,
  ) {}
  add(offset: number, path: YamlPath, message: string): void {
    const p = this.lines.at(Math.max(0, offset));
    this.list.push({ file: this.file, line: p.line, column: p.column, path: formatPath(path), message });
  }
  throwIfAny(): void {
    if (this.list.length) throw new KubeconfigError(this.list, this.file);
  }
}

function parseTree(text: string, file: string): Parsed {
  const lines = new Lines(text);
  let events: Event[];
  try {
    events = parseEvents(text, { filename: file });
  } catch (e) {
    if (e instanceof YAMLException) {
      const m = e.mark;
      // The reason only: js-yaml's message quotes a snippet of the file, which may be a key's line.
      throw new KubeconfigError([{ file, line: m ? m.line + 1 : undefined, column: m ? m.column + 1 : undefined, path: '', message: `YAML syntax error: ${e.reason}` }], file);
    }
    throw e;
  }
  let i = 0;
  const node = (): Node => {
    const ev = events[i++]!;
    switch (ev.type) {
      case EVENT_ID.SCALAR: {
        const quoted = ev.style === SCALAR_STYLE.SINGLE_QUOTED || ev.style === SCALAR_STYLE.DOUBLE_QUOTED;
        return { t: 'scalar', value: getScalarValue(text, ev), ev, offset: Math.max(0, quoted ? ev.valueStart - 1 : ev.valueStart) };
      }
      case EVENT_ID.SEQUENCE: {
        const items: Node[] = [];
        while (events[i]!.type !== EVENT_ID.POP) items.push(node());
        i++;
        return { t: 'seq', items, offset: ev.start };
      }
      case EVENT_ID.MAPPING: {
        const entries: Array<{ key: string; keyOffset: number; value: Node }> = [];
        while (events[i]!.type !== EVENT_ID.POP) {
          const k = node();
          const v = node();
          entries.push({ key: k.t === 'scalar' ? k.value : '', keyOffset: k.offset, value: v });
        }
        i++;
        return { t: 'map', entries, offset: ev.start };
      }
      case EVENT_ID.ALIAS:
        return { t: 'alias', offset: Math.max(0, ev.anchorStart - 1) };
      default:
        throw new Error(`unexpected YAML event ${ev.type}`);
    }
  };
  let root: Node | undefined;
  let documents = 0;
  while (i < events.length) {
    const ev = events[i++]!;
    if (ev.type !== EVENT_ID.DOCUMENT) continue;
    documents++;
    if (events[i] && events[i]!.type !== EVENT_ID.POP) {
      const n = node();
      if (documents === 1) root = n;
      else {
        const p = lines.at(n.offset);
        throw new KubeconfigError([{ file, line: p.line, column: p.column, path: '', message: 'a kubeconfig is one YAML document; this file has a second one' }], file);
      }
    }
    i++; // the document's POP
  }
  return { root, lines, text };
}

const spanOf = (n: Extract<Node, { t: 'scalar' }>, lines: Lines): ValueSpan => {
  const p = lines.at(n.offset);
  return { start: n.ev.valueStart, end: n.ev.valueEnd, line: p.line, column: p.column, style: STYLE_NAMES[n.ev.style] ?? 'plain' };
};

/** The entries of a mapping as a lookup; duplicate keys are reported (which one kubectl uses is not something to rely on). */
function fields(n: Node, path: YamlPath, issues: Issues): Map<string, { node: Node; keyOffset: number }> {
  const out = new Map<string, { node: Node; keyOffset: number }>();
  if (n.t !== 'map') return out;
  for (const e of n.entries) {
    if (out.has(e.key)) {
      issues.add(e.keyOffset, [...path, e.key], `duplicate key "${e.key}" (first at line ${issues.lines.at(out.get(e.key)!.keyOffset).line}): keep only one`);
      continue;
    }
    out.set(e.key, { node: e.value, keyOffset: e.keyOffset });
  }
  return out;
}

const isNull = (n: Node | undefined) => !n || (n.t === 'scalar' && n.ev.style === SCALAR_STYLE.PLAIN && /^(|~|null|Null|NULL)$/.test(n.value));

/** A string field: undefined when absent or null; an issue when it is a list, a mapping or an alias. */
function stringField(f: Map<string, { node: Node; keyOffset: number }>, key: string, path: YamlPath, issues: Issues): Extract<Node, { t: 'scalar' }> | undefined {
  const e = f.get(key);
  if (!e || isNull(e.node)) return undefined;
  if (e.node.t !== 'scalar') {
    issues.add(e.node.offset, [...path, key], e.node.t === 'alias' ? 'YAML aliases (*name) are not supported here: write the value out' : `expected a string, got a ${e.node.t === 'map' ? 'mapping' : 'list'}`);
    return undefined;
  }
  return e.node;
}

/** Decodes a `*-data` value as kubectl does (Go's base64.StdEncoding, which skips \r and \n); undefined after an issue. */
function decodeData(n: Extract<Node, { t: 'scalar' }>, path: YamlPath, issues: Issues): Buffer | undefined {
  const compact = n.value.replace(/[\r\n]/g, '');
  const bad = /[^A-Za-z0-9+/=]/.exec(compact);
  if (bad) {
    const what = bad[0] === ' ' ? 'a space' : bad[0] === '\t' ? 'a tab' : /[\x21-\x7e]/.test(bad[0]) ? `the character "${bad[0]}"` : `the character U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    issues.add(n.offset, path, `not valid base64: ${what} at position ${bad.index + 1} of the value`);
    return undefined;
  }
  if (compact.length % 4 !== 0 || /=[^=]/.test(compact) || /={3,}$/.test(compact)) {
    issues.add(n.offset, path, `not valid base64: ${compact.length % 4 !== 0 ? `its length (${compact.length}) is not a multiple of 4 (truncated?)` : 'padding "=" inside the value'}`);
    return undefined;
  }
  return Buffer.from(compact, 'base64');
}

const CREDENTIAL_KEYS: Array<[string, OtherCredential]> = [
  ['token', 'token'],
  ['tokenFile', 'tokenFile'],
  ['exec', 'exec'],
  ['auth-provider', 'auth-provider'],
  ['username', 'username'],
  ['password', 'password'],
];

interface Read {
  config: Kubeconfig;
  parsed: Parsed;
}

function read(text: string, file: string): Read {
  const parsed = parseTree(text, file);
  const issues = new Issues(file, parsed.lines);
  const root = parsed.root;
  if (!root || root.t !== 'map') {
    issues.add(root?.offset ?? 0, [], 'expected a kubeconfig (a mapping with clusters, contexts, users)');
    issues.throwIfAny();
  }
  const top = fields(root!, [], issues);
  const kind = stringField(top, 'kind', [], issues);
  if (kind && kind.value !== 'Config') issues.add(kind.offset, ['kind'], `expected "Config", got "${kind.value.slice(0, 60)}"`);

  const list = (key: string): Array<{ node: Node; path: YamlPath }> => {
    const e = top.get(key);
    if (!e || isNull(e.node)) return [];
    if (e.node.t !== 'seq') {
      issues.add(e.node.offset, [key], `expected a list of entries, got ${e.node.t === 'map' ? 'a mapping' : e.node.t === 'alias' ? 'an alias' : 'a string'}`);
      return [];
    }
    return e.node.items.map((node, i) => ({ node, path: [key, i] }));
  };
  /** Each named entry of a list (`- name: x` + `<inner>: {…}`): its name and inner fields. */
  const entries = (key: string, inner: string) => {
    const out: Array<{ name: string; index: number; offset: number; path: YamlPath; f: Map<string, { node: Node; keyOffset: number }> }> = [];
    const seen = new Map<string, number>();
    for (const [index, { node, path }] of list(key).entries()) {
      if (node.t !== 'map') {
        issues.add(node.offset, path, `expected an entry (a mapping with name and ${inner}), got ${node.t === 'seq' ? 'a list' : 'a string'}`);
        continue;
      }
      const ef = fields(node, path, issues);
      const name = stringField(ef, 'name', path, issues);
      if (!name) {
        issues.add(node.offset, [...path, 'name'], 'entry without a name');
        continue;
      }
      if (seen.has(name.value)) issues.add(name.offset, [...path, 'name'], `a second ${key.replace(/s$/, '')} named "${name.value}" (the first at line ${parsed.lines.at(seen.get(name.value)!).line}): names must be unique`);
      seen.set(name.value, name.offset);
      const innerNode = ef.get(inner)?.node;
      const innerPath = [...path, inner];
      if (innerNode && !isNull(innerNode) && innerNode.t !== 'map') issues.add(innerNode.offset, innerPath, 'expected a mapping');
      out.push({ name: name.value, index, offset: node.offset, path: innerPath, f: innerNode ? fields(innerNode, innerPath, issues) : new Map() });
    }
    return out;
  };

  const users: KubeconfigUser[] = [];
  for (const u of entries('users', 'user')) {
    const certPath = [...u.path, 'client-certificate-data'];
    const keyPath = [...u.path, 'client-key-data'];
    const user: KubeconfigUser = { name: u.name, index: u.index, line: parsed.lines.at(u.offset).line, other: [], credential: 'none' };
    const certData = stringField(u.f, 'client-certificate-data', u.path, issues);
    const keyData = stringField(u.f, 'client-key-data', u.path, issues);
    const certFile = stringField(u.f, 'client-certificate', u.path, issues);
    const keyFile = stringField(u.f, 'client-key', u.path, issues);
    if (certData && certData.value !== '') {
      const bytes = decodeData(certData, certPath, issues);
      if (bytes) {
        const pem = bytes.toString('utf8');
        try {
          const cert = parseCertificates(pem, `${file}:${parsed.lines.at(certData.offset).line}`)[0]!;
          const der = scanPem(pem);
          const first = der.ok ? der.blocks.find((b) => b.label === 'CERTIFICATE' || b.label === 'X509 CERTIFICATE') : undefined;
          user.clientCertificate = { kind: 'data', pem, cert, derSha256: createHash('sha256').update(first!.der).digest('hex'), at: spanOf(certData, parsed.lines) };
        } catch (e) {
          issues.add(certData.offset, certPath, `the decoded value is not a PEM certificate: ${(e as Error).message.split('\n').pop()!.trim()}`);
        }
      }
    } else if (certFile && certFile.value !== '') user.clientCertificate = { kind: 'file', path: certFile.value, at: spanOf(certFile, parsed.lines) };
    if (keyData && keyData.value !== '') {
      const bytes = decodeData(keyData, keyPath, issues);
      if (bytes) {
        const pem = bytes.toString('utf8');
        const c = classifyPem(pem);
        if (c.kind !== 'private-key' && c.kind !== 'encrypted-key') issues.add(keyData.offset, keyPath, `the decoded value is not a PEM private key (${c.note ?? `found: ${c.labels.join(', ') || 'no PEM block'}`})`);
        else user.clientKey = { kind: 'data', pem: new Secret(pem), at: spanOf(keyData, parsed.lines) };
      }
    } else if (keyFile && keyFile.value !== '') user.clientKey = { kind: 'file', path: keyFile.value, at: spanOf(keyFile, parsed.lines) };
    for (const [k, name] of CREDENTIAL_KEYS) if (u.f.has(k) && !isNull(u.f.get(k)!.node)) user.other.push(name);
    const c = user.clientCertificate?.kind;
    const k = user.clientKey?.kind;
    user.credential = c && k ? (c === k ? (c === 'data' ? 'embedded' : 'file') : 'mixed') : c || k ? 'partial' : user.other.length ? 'other' : 'none';
    users.push(user);
  }

  const clusters = entries('clusters', 'cluster');
  const contexts = entries('contexts', 'context');
  const config: Kubeconfig = { file, users, clusters: clusters.map((c) => c.name), contexts: contexts.map((c) => c.name) };
  const cur = stringField(top, 'current-context', [], issues);
  if (cur && cur.value !== '') {
    const current: KubeconfigCurrent = { context: cur.value };
    const ctx = contexts.find((c) => c.name === cur.value);
    if (!ctx) current.unresolved = `current-context "${cur.value}" names no context of this file`;
    else {
      const user = stringField(ctx.f, 'user', ctx.path, issues);
      const cluster = stringField(ctx.f, 'cluster', ctx.path, issues);
      if (user) current.user = user.value;
      if (cluster) current.cluster = cluster.value;
      const cl = clusters.find((c) => c.name === cluster?.value);
      if (cluster && !cl) current.unresolved = `context "${ctx.name}" names the cluster "${cluster.value}", which this file does not define`;
      else if (cl) {
        const server = stringField(cl.f, 'server', cl.path, issues);
        if (server) current.server = server.value;
        const ca = stringField(cl.f, 'certificate-authority-data', cl.path, issues);
        if (ca && ca.value !== '') {
          const bytes = decodeData(ca, [...cl.path, 'certificate-authority-data'], issues);
          if (bytes) current.certificateAuthorityPem = bytes.toString('utf8');
        }
        const caFile = stringField(cl.f, 'certificate-authority', cl.path, issues);
        if (caFile && caFile.value !== '') current.certificateAuthorityFile = caFile.value;
      }
      if (user && !users.some((u) => u.name === user.value)) current.unresolved ??= `context "${ctx.name}" names the user "${user.value}", which this file does not define`;
    }
    config.current = current;
  }
  issues.throwIfAny();
  return { config, parsed };
}

/**
 * Reads a kubeconfig (any valid one: block or flow style, JSON, comments, CRLF, several users). `file` names it in errors
 * (e.g. `kadm-1:/root/.kube/config`). Throws KubeconfigError listing every problem at once, each with its line.
 */
export function parseKubeconfig(text: Text, file: string): Kubeconfig {
  return read(textOf(text), file).config;
}

/** The user the current context names, when it resolves. */
export function currentUser(k: Kubeconfig): KubeconfigUser | undefined {
  return k.current?.user === undefined ? undefined : k.users.find((u) => u.name === k.current!.user);
}

// ---- rewriting one user's embedded certificate and key -----------------------------------------------------------------------

const base64Of = (pem: string) => Buffer.from(pem, 'utf8').toString('base64');

/** The text that replaces a scalar's source range [start, end) with `b64` (plain and quoted: the range itself; block: its lines). */
function replacement(text: string, at: ValueSpan, b64: string): { start: number; end: number; with: string } {
  if (at.style !== 'literal' && at.style !== 'folded') return { start: at.start, end: at.end, with: b64 };
  // A block scalar's range is its content lines (indentation included): the value becomes one line with the first line's
  // indentation and line ending; blank lines after the content (part of the range with `|+`) stay.
  const body = text.slice(at.start, at.end);
  const indent = /^[ \t]*/.exec(body)![0];
  const eol = /\r\n/.test(body) ? '\r\n' : '\n';
  const lastContent = body.replace(/(?:[ \t]*\r?\n)*$/, '');
  const afterContent = body.slice(lastContent.length);
  const firstBreak = afterContent.indexOf('\n');
  const consumed = firstBreak < 0 ? afterContent.length : firstBreak + 1;
  return { start: at.start, end: at.start + lastContent.length + consumed, with: indent + b64 + (firstBreak < 0 ? '' : eol) };
}

export interface NewCredentials {
  /** PEM text of the new client certificate (its chain may follow). */
  certPem: string;
  /** PEM text of its private key. */
  keyPem: Secret<string>;
}

/**
 * Replaces the `client-certificate-data` and `client-key-data` values of user `userName` (both must be embedded) and
 * returns the new text; every other byte stays as it was (quotes, comments, line endings, key order). The result holds a
 * private key: it is a Secret. Throws KubeconfigError when the user is missing or does not embed both.
 */
export function rewriteClientCredentials(text: Text, file: string, userName: string, creds: NewCredentials): Secret<string> {
  const src = textOf(text);
  const { config } = read(src, file);
  const user = config.users.find((u) => u.name === userName);
  const where = (line: number) => ({ file, line, path: '' });
  if (!user) throw new KubeconfigError([{ ...where(1), message: `no user named "${userName}" (users: ${config.users.map((u) => u.name).join(', ') || 'none'})` }], file);
  const cert = user.clientCertificate;
  const key = user.clientKey;
  if (cert?.kind !== 'data' || key?.kind !== 'data') {
    const fileRef = [cert, key].find((x): x is FileRef => x?.kind === 'file');
    const why = fileRef
      ? `names its ${fileRef === cert ? 'certificate' : 'key'} by file (${fileRef.path}, line ${fileRef.at.line}): renew that file instead`
      : `does not embed both client-certificate-data and client-key-data (it has: ${[cert && 'client-certificate-data', key && 'client-key-data', ...user.other].filter(Boolean).join(', ') || 'no credential'})`;
    throw new KubeconfigError([{ ...where(user.line), path: formatPath(['users', user.index, 'user']), message: `user "${userName}" ${why}` }], file);
  }
  // The new values are checked before they are written: a certificate and a private key, PEM.
  const certCheck = classifyPem(creds.certPem);
  if (certCheck.kind !== 'certificate') throw new KubeconfigError([{ ...where(cert.at.line), message: `the new client certificate for "${userName}" is not a PEM certificate` }], file);
  const keyCheck = classifyPem(creds.keyPem.reveal());
  if (keyCheck.kind !== 'private-key') throw new KubeconfigError([{ ...where(key.at.line), message: `the new client key for "${userName}" is not an unencrypted PEM private key` }], file);
  const edits = [replacement(src, cert.at, base64Of(creds.certPem)), replacement(src, key.at, base64Of(creds.keyPem.reveal()))].sort((a, b) => a.start - b.start);
  let out = '';
  let pos = 0;
  for (const e of edits) {
    out += src.slice(pos, e.start) + e.with;
    pos = e.end;
  }
  out += src.slice(pos);
  const result = new Secret(out);
  proveOnlyCredentialsChanged(src, result, file, userName, creds);
  return result;
}

/** What the proof found: the two values' ranges before and after, and the bytes compared outside them. */
export interface RewriteProof {
  user: string;
  before: { cert: ValueSpan; key: ValueSpan };
  after: { cert: ValueSpan; key: ValueSpan };
  /** Bytes outside the two values, identical in both texts. */
  unchangedBytes: number;
}

/**
 * Proves that `after` differs from `before` only inside user `userName`'s `client-certificate-data` and `client-key-data`
 * values: both texts are parsed, the two values located in each, and every byte outside them compared. With `expected`,
 * also that the values now decode to exactly that certificate and key. Throws KubeconfigError (naming the first differing
 * line) when not.
 */
export function proveOnlyCredentialsChanged(before: Text, after: Text, file: string, userName: string, expected?: NewCredentials): RewriteProof {
  const a = textOf(before);
  const b = textOf(after);
  const spans = (text: string, which: string) => {
    const { config } = read(text, `${file} (${which})`);
    const u = config.users.find((x) => x.name === userName);
    if (u?.clientCertificate?.kind !== 'data' || u.clientKey?.kind !== 'data')
      throw new KubeconfigError([{ file, path: '', message: `${which}: user "${userName}" does not embed both client-certificate-data and client-key-data` }], file);
    return { user: u, cert: u.clientCertificate.at, key: u.clientKey.at };
  };
  const sa = spans(a, 'before');
  const sb = spans(b, 'after');
  // Block scalars are compared by their whole lines (the rewrite puts one line in place of several).
  const outer = (text: string, s: ValueSpan) => (s.style === 'literal' || s.style === 'folded' ? replacement(text, s, '') : { start: s.start, end: s.end });
  const ra = [outer(a, sa.cert), outer(a, sa.key)].sort((x, y) => x.start - y.start);
  const rb = [outer(b, sb.cert), outer(b, sb.key)].sort((x, y) => x.start - y.start);
  const pieces = (text: string, r: Array<{ start: number; end: number }>) => [text.slice(0, r[0]!.start), text.slice(r[0]!.end, r[1]!.start), text.slice(r[1]!.end)];
  const pa = pieces(a, ra);
  const pb = pieces(b, rb);
  const bLines = new Lines(b);
  for (let i = 0; i < 3; i++) {
    if (pa[i] === pb[i]) continue;
    let k = 0;
    while (k < pa[i]!.length && pa[i]![k] === pb[i]![k]) k++;
    const offset = (i === 0 ? 0 : rb[i - 1]!.end) + k;
    throw new KubeconfigError([{ file, line: bLines.at(offset).line, column: bLines.at(offset).column, path: '', message: `the rewritten text differs outside user "${userName}"'s client-certificate-data and client-key-data` }], file);
  }
  if (expected) {
    const cert = sb.user.clientCertificate as EmbeddedCert;
    const key = sb.user.clientKey as EmbeddedKey;
    if (cert.pem !== expected.certPem) throw new KubeconfigError([{ file, line: cert.at.line, path: '', message: `user "${userName}"'s client-certificate-data is not the new certificate` }], file);
    if (key.pem.reveal() !== expected.keyPem.reveal()) throw new KubeconfigError([{ file, line: key.at.line, path: '', message: `user "${userName}"'s client-key-data is not the new key` }], file);
  }
  return { user: userName, before: { cert: sa.cert, key: sa.key }, after: { cert: sb.cert, key: sb.key }, unchangedBytes: pa.join('').length };
}
