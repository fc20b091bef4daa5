// Subject alternative names as a set: parse, normalise (DNS case, IPv4/IPv6 forms), union, diff and the etcd SAN rule — pure, no I/O.
import { isIP } from 'node:net';

export type SanType = 'dns' | 'ip' | 'email' | 'uri' | 'other';

/** One SAN. `value` is normalised: DNS lower-case without a trailing dot, IPv4 dotted, IPv6 in RFC 5952 form. */
export interface San {
  type: SanType;
  value: string;
}

/** What went wrong parsing one SAN string (the caller decides which error class to throw). */
export class SanSyntaxError extends Error {
  override name = 'SanSyntaxError';
  constructor(readonly input: string, reason: string) {
    super(`"${input}" is not a valid SAN: ${reason}`);
  }
}

const DNS_LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** Normalise an IPv4 or IPv6 address text; undefined when it is not one. */
export function normaliseIp(text: string): string | undefined {
  const t = text.trim().replace(/^\[(.*)\]$/, '$1');
  const kind = isIP(t);
  if (kind === 4) return t.split('.').map((p) => String(Number(p))).join('.');
  if (kind === 6) return ipv6ToText(ipv6ToBytes(t));
  return undefined;
}

/** 16 bytes of an IPv6 address text (which net.isIP already accepted). */
function ipv6ToBytes(text: string): Uint8Array {
  let t = text.toLowerCase();
  const out = new Uint8Array(16);
  // Embedded IPv4 tail (::ffff:1.2.3.4) → two hex groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    t = t.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = t.includes('::') ? t.split('::') : [t, undefined];
  const h = head ? head.split(':') : [];
  const tl = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - tl.length).fill('0'), ...tl];
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

/** RFC 5952 text of 16 address bytes: lower-case, no leading zeros, the longest run (≥2) of zero groups as `::`, IPv4-mapped as ::ffff:a.b.c.d. */
export function ipv6ToText(bytes: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((bytes[i]! << 8) | bytes[i + 1]!);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestLen < 2) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':');
}

/** Text form of the raw bytes of an iPAddress SAN (4 or 16 bytes). */
export function ipBytesToText(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length === 16) return ipv6ToText(bytes);
  return Buffer.from(bytes).toString('hex');
}

/** Raw bytes of a normalised IP text (4 or 16). */
export function ipTextToBytes(text: string): Uint8Array {
  const n = normaliseIp(text);
  if (n === undefined) throw new SanSyntaxError(text, 'not an IPv4 or IPv6 address');
  if (isIP(n) === 4) return Uint8Array.from(n.split('.').map(Number));
  return ipv6ToBytes(n);
}

function normaliseDns(text: string): string {
  const v = text.trim().toLowerCase().replace(/\.$/, '');
  if (v.length === 0 || v.length > 253) throw new SanSyntaxError(text, 'a DNS name must have 1 to 253 characters');
  const labels = v.split('.');
  labels.forEach((label, i) => {
    if (i === 0 && label === '*' && labels.length > 1) return;
    if (!DNS_LABEL.test(label)) throw new SanSyntaxError(text, `label "${label}" is not a valid DNS label`);
  });
  return v;
}

/**
 * Parse a SAN written as `DNS:name`, `IP:addr`, `IP Address:addr` (openssl's spelling), `email:x`, `URI:x`,
 * or a bare value (an IP if it parses as one, otherwise a DNS name).
 */
export function parseSan(input: string | San): San {
  if (typeof input !== 'string') return normaliseSan(input);
  const s = input.trim();
  const m = /^(DNS|IP Address|IP|email|URI)\s*:\s*(.*)$/i.exec(s);
  if (!m) {
    const ip = normaliseIp(s);
    return ip !== undefined ? { type: 'ip', value: ip } : { type: 'dns', value: normaliseDns(s) };
  }
  const prefix = m[1]!.toLowerCase();
  const value = m[2]!;
  if (prefix === 'dns') return { type: 'dns', value: normaliseDns(value) };
  if (prefix === 'ip' || prefix === 'ip address') {
    const ip = normaliseIp(value);
    if (ip === undefined) throw new SanSyntaxError(input, 'not an IPv4 or IPv6 address');
    return { type: 'ip', value: ip };
  }
  if (prefix === 'email') return { type: 'email', value: value.trim() };
  return { type: 'uri', value: value.trim() };
}

/** The same SAN with its value normalised. */
export function normaliseSan(san: San): San {
  switch (san.type) {
    case 'dns':
      return { type: 'dns', value: normaliseDns(san.value) };
    case 'ip': {
      const ip = normaliseIp(san.value);
      if (ip === undefined) throw new SanSyntaxError(san.value, 'not an IPv4 or IPv6 address');
      return { type: 'ip', value: ip };
    }
    case 'email': {
      // The local part is case-sensitive, the domain is not.
      const at = san.value.lastIndexOf('@');
      return { type: 'email', value: at < 0 ? san.value : san.value.slice(0, at) + san.value.slice(at).toLowerCase() };
    }
    default:
      return { ...san };
  }
}

/** A string that is equal for two SANs exactly when they name the same thing. */
export function sanKey(san: San): string {
  const n = normaliseSan(san);
  return `${n.type}:${n.value}`;
}

/** `DNS:x`, `IP:x`, `email:x`, `URI:x`: the spelling cfssl and openssl configs accept. */
export function formatSan(san: San): string {
  const prefix = { dns: 'DNS', ip: 'IP', email: 'email', uri: 'URI', other: 'othername' }[san.type];
  return `${prefix}:${san.value}`;
}

/** Order-preserving union without duplicates (first spelling wins, normalised). */
export function unionSans(...lists: ReadonlyArray<ReadonlyArray<string | San>>): San[] {
  const seen = new Set<string>();
  const out: San[] = [];
  for (const list of lists) {
    for (const item of list) {
      const san = parseSan(item);
      const key = sanKey(san);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(san);
    }
  }
  return out;
}

export interface SanDiff {
  /** In the new set only. */
  added: San[];
  /** In the old set only: a client using one of these names would be refused after the renewal. */
  removed: San[];
  /** In both. */
  kept: San[];
}

/** What changes from the old SAN set to the new one. */
export function sanDiff(oldSans: ReadonlyArray<string | San>, newSans: ReadonlyArray<string | San>): SanDiff {
  const oldSet = unionSans(oldSans);
  const newSet = unionSans(newSans);
  const oldKeys = new Set(oldSet.map(sanKey));
  const newKeys = new Set(newSet.map(sanKey));
  return {
    added: newSet.filter((s) => !oldKeys.has(sanKey(s))),
    removed: oldSet.filter((s) => !newKeys.has(sanKey(s))),
    kept: newSet.filter((s) => oldKeys.has(sanKey(s))),
  };
}

/** The SANs of `required` missing from `actual`. */
export function missingSans(required: ReadonlyArray<string | San>, actual: ReadonlyArray<string | San>): San[] {
  const have = new Set(unionSans(actual).map(sanKey));
  return unionSans(required).filter((s) => !have.has(sanKey(s)));
}

/** An etcd member as the SAN rule sees it (structurally a subset of inventory's Host). */
export interface SanMember {
  hostname: string;
  ip?: string;
}

export interface EtcdSanInput {
  /** SANs of the certificate being replaced (kept, so no client loses a name it uses). */
  oldSans?: ReadonlyArray<string | San>;
  /** Every etcd member: hostname (DNS) and IP. */
  members: ReadonlyArray<SanMember>;
  /** The `kubernetes` service IP. */
  serviceIp?: string;
  /** Extra SANs from the inventory (`DNS:`/`IP:` prefixed or bare). */
  extraSans?: ReadonlyArray<string>;
}

/** The SANs the etcd certificate must carry: old SANs ∪ members' hostnames and IPs ∪ 127.0.0.1 ∪ service IP ∪ extra SANs. */
export function etcdLeafSans(input: EtcdSanInput): San[] {
  const fromMembers: San[] = [];
  for (const m of input.members) {
    fromMembers.push(parseSan(m.hostname));
    if (m.ip) fromMembers.push({ type: 'ip', value: m.ip });
  }
  return unionSans(
    input.oldSans ?? [],
    fromMembers,
    ['IP:127.0.0.1'],
    input.serviceIp ? [{ type: 'ip', value: input.serviceIp }] : [],
    input.extraSans ?? [],
  );
}

/** The SANs every etcd certificate must include whatever the old one had (used by checkRenewal). */
export function requiredEtcdSans(input: Omit<EtcdSanInput, 'oldSans'>): San[] {
  return etcdLeafSans({ ...input, oldSans: [] });
}
