// Reads and extends OpenSSH known_hosts files and decides whether a host's presented key is known, unknown, changed or revoked.
import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface KnownHostEntry {
  /** 1-based line in the file. */
  line: number;
  marker?: 'cert-authority' | 'revoked';
  /** The host field as written: comma-separated patterns or one `|1|salt|hash`. */
  hosts: string;
  keyType: string;
  key: Buffer;
}

export type HostKeyVerdict =
  | { status: 'known'; entry: KnownHostEntry }
  /** No plain key for this host. certAuthorityOnly: the file only vouches for it through @cert-authority, which ssh2 cannot check. */
  | { status: 'unknown'; certAuthorityOnly: boolean }
  /** The host is in the file with other keys (of the same type, or only of other types). */
  | { status: 'changed'; expected: KnownHostEntry[] }
  | { status: 'revoked'; entry: KnownHostEntry };

/** Parse a known_hosts file; malformed lines and comments are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split('\n').forEach((rawLine, i) => {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@cert-authority') marker = 'cert-authority';
      else if (m === '@revoked') marker = 'revoked';
      else return;
    }
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64) return;
    const key = Buffer.from(b64, 'base64');
    if (key.length === 0 || keyTypeOf(key) !== keyType) return;
    out.push({ line: i + 1, marker, hosts, keyType, key });
  });
  return out;
}

/** The name OpenSSH looks up for host:port: `host` on port 22, `[host]:port` otherwise (lowercased). */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

const globCache = new Map<string, RegExp>();

function globMatch(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === name;
  let re = globCache.get(pattern);
  if (!re) {
    re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 's');
    globCache.set(pattern, re);
  }
  return re.test(name);
}

/**
 * Entries by the names they list literally, so that a lookup costs O(1) instead of a pass over the whole file: `check` of
 * N hosts against an N-line known_hosts was O(N²) pattern matches (seconds of CPU at 1,000 hosts). Entries with a
 * wildcard, a negation or a hashed host field are still matched one by one, in file order.
 */
interface EntryIndex {
  byName: Map<string, number[]>;
  others: number[];
  revoked: KnownHostEntry[];
}
const indexes = new WeakMap<readonly KnownHostEntry[], EntryIndex>();

function indexOf(entries: readonly KnownHostEntry[]): EntryIndex {
  let ix = indexes.get(entries);
  if (ix) return ix;
  ix = { byName: new Map(), others: [], revoked: entries.filter((e) => e.marker === 'revoked') };
  entries.forEach((e, i) => {
    const patterns = e.hosts.split(',').filter(Boolean);
    if (e.hosts.startsWith('|') || patterns.some((p) => /[*?!]/.test(p))) {
      ix!.others.push(i);
      return;
    }
    for (const p of new Set(patterns.map((x) => x.toLowerCase()))) {
      const list = ix!.byName.get(p);
      if (list) list.push(i);
      else ix!.byName.set(p, [i]);
    }
  });
  indexes.set(entries, ix);
  return ix;
}

/** The entries whose host field matches `name` (as hostFieldMatches decides), in file order. */
export function entriesFor(entries: readonly KnownHostEntry[], name: string): KnownHostEntry[] {
  const ix = indexOf(entries);
  const literal = ix.byName.get(name) ?? [];
  const other = ix.others.filter((i) => hostFieldMatches(entries[i]!.hosts, name));
  const all = other.length === 0 ? literal : [...literal, ...other].sort((a, b) => a - b);
  return all.map((i) => entries[i]!);
}

/** Whether an entry's host field matches the looked-up name: hashed `|1|salt|hash`, or a pattern list with `*`, `?` and `!negation`. */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return mac === hash;
  }
  let matched = false;
  for (const p of field.split(',')) {
    if (!p) continue;
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1).toLowerCase(), name)) return false;
    } else if (globMatch(p.toLowerCase(), name)) {
      matched = true;
    }
  }
  return matched;
}

/** The key type written inside an SSH public key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`…). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return '';
  const n = blob.readUInt32BE(0);
  if (n > blob.length - 4 || n > 64) return '';
  return blob.subarray(4, 4 + n).toString('latin1');
}

/** OpenSSH-style fingerprint: `SHA256:` + base64 of the blob's SHA-256, without padding. */
export function fingerprintSha256(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** Decide about the key a host presented, the way OpenSSH does with StrictHostKeyChecking=yes. */
export function checkHostKey(entries: readonly KnownHostEntry[], host: string, port: number, presented: Buffer): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const mine = entriesFor(entries, name);
  // A revoked key is refused whatever host line it was revoked under: it is compromised everywhere.
  const revoked = indexOf(entries).revoked.find((e) => e.key.equals(presented));
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = mine.filter((e) => e.marker === undefined);
  const hit = plain.find((e) => e.key.equals(presented));
  if (hit) return { status: 'known', entry: hit };
  if (plain.length > 0) return { status: 'changed', expected: plain };
  return { status: 'unknown', certAuthorityOnly: mine.some((e) => e.marker === 'cert-authority') };
}

/** Key types the file holds for this host, in file order: offered first so the server presents a key we can check. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  const types: string[] = [];
  for (const e of entriesFor(entries, name)) {
    if (e.marker === undefined && !types.includes(e.keyType)) types.push(e.keyType);
  }
  return types;
}

/** Host key algorithms to offer, in order, for the given known key types (ssh-rsa keys are also used with rsa-sha2-*). */
export function hostKeyAlgorithmsFor(types: readonly string[], supported: readonly string[]): string[] {
  const wanted: string[] = [];
  for (const t of types) {
    const algos = t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t];
    for (const a of algos) if (supported.includes(a) && !wanted.includes(a)) wanted.push(a);
  }
  return [...wanted, ...supported.filter((a) => !wanted.includes(a))];
}

/** Read a known_hosts file; a missing file is an empty one. */
export async function loadKnownHosts(file: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

const appendQueue = new Map<string, Promise<unknown>>();

/**
 * Add a plain entry for host:port (never for a host that already has other keys: the caller checks the verdict first).
 * Appends are serialised per file, and an identical entry is not written twice.
 */
export function appendKnownHost(file: string, host: string, port: number, blob: Buffer): Promise<void> {
  const prev = appendQueue.get(file) ?? Promise.resolve();
  const next = prev.catch(() => undefined).then(async () => {
    const entries = await loadKnownHosts(file);
    if (checkHostKey(entries, host, port, blob).status === 'known') return;
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    let prefix = '';
    try {
      const cur = await readFile(file, 'utf8');
      if (cur.length > 0 && !cur.endsWith('\n')) prefix = '\n';
    } catch {
      /* new file */
    }
    await appendFile(file, `${prefix}${knownHostsName(host, port)} ${keyTypeOf(blob)} ${blob.toString('base64')}\n`, { mode: 0o600 });
  });
  appendQueue.set(file, next);
  return next;
}
