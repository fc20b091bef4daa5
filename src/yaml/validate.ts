// Small named validation rules for YAML input (inventories, playbooks): each collects located InputIssues instead of throwing.
import { isIP } from 'node:net';
import { InputError, type InputIssue } from '../errors.js';
import { formatPath, parseYaml, type LocatedYaml, type YamlPath } from './located.js';

/** Returned by a rule when the value is invalid; the reason is already recorded in the context. */
export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;
export type Checked<T> = T | Invalid;

/** Where issues are collected while validating one document. */
export class ValidationContext {
  readonly issues: InputIssue[] = [];
  constructor(readonly doc: LocatedYaml) {}

  /** Records an issue at the value of `path` (or at its key with `onKey`) and returns INVALID. */
  fail(path: YamlPath, message: string, onKey = false): Invalid {
    this.issues.push(this.doc.issue(path, message, onKey));
    return INVALID;
  }

  get ok(): boolean {
    return this.issues.length === 0;
  }
}

/** A rule checks one value found at `path` and returns it (possibly converted) or INVALID. */
export interface Rule<T> {
  (value: unknown, path: YamlPath, ctx: ValidationContext): Checked<T>;
  /** Set by `optional()`: a missing key (or null) is accepted as `undefined`. */
  readonly optional?: boolean;
}

export function isInvalid<T>(v: Checked<T>): v is Invalid {
  return v === INVALID;
}

/** Longest echo of a user's value in a message; the rest is cut with an ellipsis. */
export const ECHO_MAX = 80;

/** `s` cut to `max` characters with `…` when longer (messages must stay readable whatever was typed). */
export function clip(s: string, max = ECHO_MAX): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** A user's string as shown in messages: quoted and clipped. */
export function quoted(s: string): string {
  return JSON.stringify(clip(s));
}

/** How a value is shown in messages: strings quoted (and clipped), `a mapping`, `a list`, `nothing` for null. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return quoted(v);
  return clip(String(v));
}

function got(v: unknown): string {
  return `got ${describeValue(v)}`;
}

/** Edit distance (optimal string alignment: insert, delete, substitute, swap two neighbours), for "did you mean". */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate to `word` (case-insensitive, within about a third of its length), if any. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  if (word.length > 200) return undefined; // no name is that long, and the distance table would be huge
  let best: string | undefined;
  let bestDistance = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  if (best !== undefined && bestDistance <= limit) return best;
  // A shortened or lengthened name (`etcdPort` for `etcdClientPort`): one is a subsequence of the other.
  if (word.length < 4) return undefined;
  let shortest: string | undefined;
  for (const c of candidates) {
    const cl = c.toLowerCase();
    if (cl.length < 4) continue;
    if ((isSubsequence(w, cl) || isSubsequence(cl, w)) && (shortest === undefined || c.length < shortest.length)) shortest = c;
  }
  return shortest;
}

function isSubsequence(short: string, long: string): boolean {
  if (short.length > long.length) return false;
  let i = 0;
  for (const ch of long) if (ch === short[i]) i++;
  return i === short.length;
}

/** ` (did you mean "x"?)` or an empty string. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s === undefined ? '' : ` (did you mean "${s}"?)`;
}

/** Makes a rule accept a missing key or null (as `undefined`). */
export function optional<T>(rule: Rule<T>): Rule<T | undefined> {
  const r = (value: unknown, path: YamlPath, ctx: ValidationContext): Checked<T | undefined> =>
    value === undefined || value === null ? undefined : rule(value, path, ctx);
  return Object.assign(r, { optional: true as const });
}

/** Like optional(), but a missing key or null yields `fallback`. */
export function withDefault<T>(rule: Rule<T>, fallback: T): Rule<T> {
  const r = (value: unknown, path: YamlPath, ctx: ValidationContext): Checked<T> =>
    value === undefined || value === null ? fallback : rule(value, path, ctx);
  return Object.assign(r, { optional: true as const });
}

export interface StringOptions {
  /** The value must match this (whole-string anchored) pattern. */
  pattern?: RegExp;
  /** What to say is expected, e.g. `a user name (letters, digits, _ . -)`. */
  expected?: string;
  maxLength?: number;
}

/** A non-empty string without NUL or newlines, optionally matching a pattern. */
export function str(opts: StringOptions = {}): Rule<string> {
  const expected = opts.expected ?? 'a non-empty string';
  return (v, path, ctx) => {
    if (typeof v !== 'string' || v.length === 0) return ctx.fail(path, `expected ${expected}, ${got(v)}`);
    if (/[\0\r\n]/.test(v) || (opts.pattern && !opts.pattern.test(v))) return ctx.fail(path, `expected ${expected}, ${got(v)}`);
    if (opts.maxLength !== undefined && v.length > opts.maxLength)
      return ctx.fail(path, `expected ${expected} of at most ${opts.maxLength} characters, got ${v.length} characters`);
    return v;
  };
}

/** An integer in [min, max]; a quoted string of digits is accepted too. */
export function int(min: number, max: number): Rule<number> {
  return (v, path, ctx) => {
    let n: number | undefined;
    if (typeof v === 'number') n = v;
    else if (typeof v === 'string' && /^[0-9]+$/.test(v)) n = Number(v);
    if (n === undefined || !Number.isInteger(n) || n < min || n > max)
      return ctx.fail(path, `expected an integer ${min}-${max}, ${got(v)}`);
    return n;
  };
}

/** `true` or `false` (YAML booleans only). */
export function bool(): Rule<boolean> {
  return (v, path, ctx) => (typeof v === 'boolean' ? v : ctx.fail(path, `expected true or false, ${got(v)}`));
}

/** One of a fixed set of strings. */
export function oneOf<const T extends string>(values: readonly T[]): Rule<T> {
  return (v, path, ctx) => {
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    const hint = typeof v === 'string' && v.length <= 200 ? didYouMean(v, values) : '';
    return ctx.fail(path, `expected one of ${values.map((x) => JSON.stringify(x)).join(', ')}, ${got(v)}${hint}`);
  };
}

/** An IPv4 or IPv6 address. */
export function isIpAddress(s: string): boolean {
  return isIP(s) !== 0;
}

/**
 * One spelling per address, for comparisons: IPv4 dotted decimal; IPv6 as eight lowercase hex groups without a zone;
 * an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) as its IPv4 address. Undefined when `s` is not an IP address.
 */
export function normalizeIp(s: string): string | undefined {
  const family = isIP(s);
  if (family === 4) return s.split('.').map((x) => String(Number(x))).join('.');
  if (family !== 6) return undefined;
  let a = s.split('%')[0]!.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (v4) {
    const [b0, b1, b2, b3] = v4.slice(1).map(Number) as [number, number, number, number];
    a = a.slice(0, v4.index) + `${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [head, tail] = a.includes('::') ? (a.split('::') as [string, string]) : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const n = groups.map((g) => parseInt(g, 16));
  if (n.length !== 8 || n.some((x) => !Number.isInteger(x))) return undefined;
  if (n.slice(0, 5).every((x) => x === 0) && n[5] === 0xffff) return `${n[6]! >> 8}.${n[6]! & 255}.${n[7]! >> 8}.${n[7]! & 255}`;
  return n.map((x) => x.toString(16)).join(':');
}

/** Why an address cannot be a host's or a certificate's: unspecified, broadcast or multicast (or undefined when fine). */
export function unusableIpReason(s: string): string | undefined {
  const n = normalizeIp(s);
  if (n === undefined) return undefined;
  if (n.includes('.')) {
    const first = Number(n.split('.')[0]);
    if (first === 0) return 'an unspecified address (0.0.0.0/8 names no host)';
    if (n === '255.255.255.255') return 'the broadcast address';
    if (first >= 224 && first <= 239) return 'a multicast address (224.0.0.0/4)';
    return undefined;
  }
  if (n === '0:0:0:0:0:0:0:0') return 'the unspecified address (::)';
  if (parseInt(n.split(':')[0]!, 16) >= 0xff00) return 'a multicast address (ff00::/8)';
  return undefined;
}

/** The key two host addresses are compared by: the normalised IP, or the lowercase hostname without a final dot. */
export function addressKey(address: string): string {
  return normalizeIp(address) ?? address.toLowerCase().replace(/\.$/, '');
}

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** A DNS hostname (RFC 1123): dot-separated labels of letters, digits and inner hyphens; the last label is not all digits. */
export function isHostname(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  const labels = (s.endsWith('.') ? s.slice(0, -1) : s).split('.');
  if (!labels.every((l) => LABEL.test(l))) return false;
  return !/^[0-9]+$/.test(labels[labels.length - 1]!);
}

/** An IPv4 or IPv6 address that can name a host (not unspecified, broadcast or multicast). */
export function ip(): Rule<string> {
  return (v, path, ctx) => {
    if (typeof v !== 'string' || !isIpAddress(v)) return ctx.fail(path, `expected an IPv4 or IPv6 address, ${got(v)}`);
    const bad = unusableIpReason(v);
    return bad ? ctx.fail(path, `expected the address of a host, got ${quoted(v)}: ${bad}`) : v;
  };
}

/** A DNS hostname (letters, digits, hyphens, dots). */
export function hostname(): Rule<string> {
  return (v, path, ctx) =>
    typeof v === 'string' && isHostname(v)
      ? v
      : ctx.fail(path, `expected a hostname (letters, digits, '-' and '.'), ${got(v)}`);
}

/** Where to connect: an IP address of a host, or a DNS hostname. */
export function hostAddress(): Rule<string> {
  return (v, path, ctx) => {
    if (typeof v !== 'string' || !(isIpAddress(v) || isHostname(v))) return ctx.fail(path, `expected an IP address or a hostname, ${got(v)}`);
    const bad = unusableIpReason(v);
    return bad ? ctx.fail(path, `expected the address of a host, got ${quoted(v)}: ${bad}`) : v;
  };
}

/** A certificate subject alternative name: an IP address of a host, a hostname, or a wildcard `*.example.com`. */
export function sanName(): Rule<string> {
  return (v, path, ctx) => {
    if (typeof v !== 'string' || !(isIpAddress(v) || isHostname(v) || (v.startsWith('*.') && isHostname(v.slice(2)))))
      return ctx.fail(path, `expected an IP address or a DNS name, ${got(v)}`);
    const bad = unusableIpReason(v);
    return bad ? ctx.fail(path, `expected an address a certificate can name, got ${quoted(v)}: ${bad}`) : v;
  };
}

export interface AbsPathOptions {
  /** Accept `~` and `~/…` (expanded later with expandTilde). */
  tilde?: boolean;
  /** Accept glob characters `*`, `?`, `[`, `]`. */
  glob?: boolean;
}

const PATH_CHARS = /^[A-Za-z0-9._+@%=,:/~-]*$/;
const GLOB_PATH_CHARS = /^[A-Za-z0-9._+@%=,:/~*?[\]-]*$/;

/**
 * An absolute path with a conservative charset (letters, digits, `. _ + @ % = , : - /`, plus `* ? [ ]` for globs);
 * no `.`/`..` segments, not `/` itself; trailing slashes are removed.
 */
export function absPath(opts: AbsPathOptions = {}): Rule<string> {
  const what = `an absolute path${opts.tilde ? ' (or ~/…)' : ''}${opts.glob ? ' or glob' : ''}`;
  return (v, path, ctx) => {
    if (typeof v !== 'string' || v.length === 0) return ctx.fail(path, `expected ${what}, ${got(v)}`);
    const tilde = opts.tilde && (v === '~' || v.startsWith('~/'));
    if (!tilde && !v.startsWith('/'))
      return ctx.fail(path, `expected ${what}, got relative path ${quoted(v)}`);
    if (!(opts.glob ? GLOB_PATH_CHARS : PATH_CHARS).test(v) || v.indexOf('~', 1) >= 0)
      return ctx.fail(
        path,
        `expected ${what} made of letters, digits and . _ + @ % = , : - /${opts.glob ? ' * ? [ ]' : ''}, ${got(v)}`,
      );
    const trimmed = v.replace(/\/+$/, '');
    if (trimmed === '') return ctx.fail(path, `expected ${what} below /, ${got(v)}`);
    if (trimmed.split('/').some((s) => s === '.' || s === '..'))
      return ctx.fail(path, `expected ${what} without . or .. segments, ${got(v)}`);
    return trimmed;
  };
}

/** Replaces a leading `~` with `home`. */
export function expandTilde(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return home.replace(/\/+$/, '') + p.slice(1);
  return p;
}

export interface ListOptions {
  minItems?: number;
  /** What the list is for, used when it is too short: `expected at least 1 host (…)`. */
  itemName?: string;
  /** Report repeated items. */
  unique?: boolean;
}

/** A list whose items all pass `item`; returns INVALID if any item is invalid (all items are still checked). */
export function listOf<T>(item: Rule<T>, opts: ListOptions = {}): Rule<T[]> {
  return (v, path, ctx) => {
    if (!Array.isArray(v)) return ctx.fail(path, `expected a list, ${got(v)}`);
    const min = opts.minItems ?? 0;
    if (v.length < min)
      return ctx.fail(path, `expected at least ${min} ${opts.itemName ?? 'item'}${min === 1 ? '' : 's'}, got an empty list`);
    const out: T[] = [];
    let bad = false;
    const seen = new Map<string, number>();
    v.forEach((x, i) => {
      const r = item(x, [...path, i], ctx);
      if (isInvalid(r)) {
        bad = true;
        return;
      }
      if (opts.unique) {
        const k = JSON.stringify(r);
        const first = seen.get(k);
        if (first !== undefined) {
          bad = true;
          ctx.fail([...path, i], `${describeValue(x)} is listed twice (also at ${formatPath([...path, first])})`);
          return;
        }
        seen.set(k, i);
      }
      out.push(r);
    });
    return bad ? INVALID : out;
  };
}

/** Checks that a value is a mapping (a plain object, not a list or scalar). */
export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface MapOptions {
  /** Checks each key; returns a message (what is expected) when the key is not acceptable. */
  key?: (key: string) => string | undefined;
}

/** A mapping of arbitrary keys to values passing `value`; keys keep document order. */
export function mapOf<T>(value: Rule<T>, opts: MapOptions = {}): Rule<Map<string, T>> {
  return (v, path, ctx) => {
    if (!isMapping(v)) return ctx.fail(path, `expected a mapping, ${got(v)}`);
    const out = new Map<string, T>();
    let bad = false;
    for (const [k, x] of Object.entries(v)) {
      const keyProblem = opts.key?.(k);
      if (keyProblem) {
        ctx.fail([...path, k], keyProblem, true);
        bad = true;
      }
      const r = value(x, [...path, k], ctx);
      if (isInvalid(r)) bad = true;
      else out.set(k, r);
    }
    return bad ? INVALID : out;
  };
}

/** The fields of a closed object: each a rule; wrap in optional()/withDefault() for optional fields. */
export type Shape = Record<string, Rule<unknown>>;
export type ShapeValue<S extends Shape> = { [K in keyof S]: S[K] extends Rule<infer T> ? T : never };

/**
 * A closed mapping: every key must be one of the shape's fields (unknown keys are reported with a "did you mean"),
 * required fields must be present. All fields are checked even after a failure.
 */
export function object<S extends Shape>(shape: S, opts: { name?: string } = {}): Rule<ShapeValue<S>> {
  const known = Object.keys(shape);
  return (v, path, ctx) => {
    if (!isMapping(v)) return ctx.fail(path, `expected ${opts.name ?? 'a mapping'}, ${got(v)}`);
    let bad = false;
    for (const k of Object.keys(v)) {
      if (!Object.hasOwn(shape, k)) {
        bad = true;
        ctx.fail([...path, k], unknownKeyMessage(k, known), true);
      }
    }
    const out: Record<string, unknown> = {};
    for (const [k, rule] of Object.entries(shape)) {
      const present = Object.hasOwn(v, k);
      if (!present && !rule.optional) {
        bad = true;
        ctx.fail(path, `missing required field "${k}"`, true);
        continue;
      }
      const r = rule(present ? v[k] : undefined, [...path, k], ctx);
      if (isInvalid(r)) bad = true;
      else if (r !== undefined) out[k] = r;
    }
    return bad ? INVALID : (out as ShapeValue<S>);
  };
}

/** `unknown key "adress" (did you mean "address"?); expected one of: address, hostname, ip`. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  return `unknown key ${quoted(key)}${didYouMean(key, known)}; expected one of: ${known.join(', ')}`;
}

/** Runs `rule` on a document's root value; returns the value and every issue found. */
export function validate<T>(doc: LocatedYaml, rule: Rule<T>): { value: Checked<T>; issues: InputIssue[] } {
  const ctx = new ValidationContext(doc);
  const value = rule(doc.value, [], ctx);
  return { value, issues: ctx.issues };
}

/** Orders issues by position in the file, so the report reads top to bottom. */
export function sortIssues(issues: InputIssue[]): InputIssue[] {
  return [...issues].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

/**
 * Parses YAML text and validates it with `rule`; throws one InputError with every syntax, duplicate-key and rule issue
 * (headline e.g. `Invalid playbook:`). Returns the validated value and the located document (for positions of later checks).
 */
export function parseAndValidate<T>(text: string, file: string, rule: Rule<T>, headline: string): { value: T; doc: LocatedYaml } {
  const parsed = parseYaml(text, file);
  if (!parsed.doc) throw new InputError(parsed.issues, headline);
  const { value, issues } = validate(parsed.doc, rule);
  const all = [...parsed.issues, ...issues];
  if (all.length > 0 || isInvalid(value)) throw new InputError(sortIssues(all), headline);
  return { value, doc: parsed.doc };
}
