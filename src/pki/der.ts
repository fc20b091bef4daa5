// Low-level encoding helpers over node-forge's ASN.1: PEM blocks, DER ↔ ASN.1, OIDs, names, times, bit strings, hex.
import type forgeModule from 'node-forge';
import { lazy, lazyRequire } from '../lazy.js';

// Only node-forge's ASN.1 and util are used: requiring lib/asn1.js (which loads forge's core, util and oids) instead of the
// package's index, which loads all of forge (ciphers, TLS, PKCS#12…), saves ~60 ms of start-up in every command that reads
// a certificate (check, plan, run). lib/forge.js is the namespace those files fill in.
const forgeAsn1 = lazyRequire<object>('node-forge/lib/asn1.js');
const forge = lazy(() => (Reflect.get(forgeAsn1, 'Class'), lazyRequire<typeof forgeModule>('node-forge/lib/forge.js')));
const asn1 = lazy(() => forge.asn1);
export type Asn1 = forgeModule.asn1.Asn1;
export const Class = lazy(() => forge.asn1.Class);
export const Type = lazy(() => forge.asn1.Type);

/** One `-----BEGIN X-----` … `-----END X-----` block. `headers` are RFC 1421 headers (Proc-Type, DEK-Info). */
export interface PemBlock {
  label: string;
  headers: Record<string, string>;
  der: Buffer;
  /** The block's text, normalised to `\n` line ends and one trailing newline. */
  text: string;
  /** 1-based line where the block begins. */
  line: number;
}

export type PemScan =
  | { ok: true; blocks: PemBlock[] }
  | { ok: false; problem: 'no-pem' | 'der-not-pem' | 'truncated-pem'; message: string; line?: number };

/** True when the bytes look like binary DER rather than text. */
function looksBinary(data: string | Buffer): boolean {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (buf.length < 2) return false;
  if (buf[0] === 0x30 && (buf[1]! >= 0x80 || buf[1]! < 0x20)) return true;
  return typeof data === 'string' ? /[\u0000-\u0008\ufffd]/.test(data.slice(0, 64)) : buf.subarray(0, 64).includes(0);
}

/** Split text into PEM blocks; report DER input, no PEM at all, and blocks without their END line. */
export function scanPem(data: string | Buffer): PemScan {
  if (looksBinary(data)) {
    return {
      ok: false,
      problem: 'der-not-pem',
      message:
        'this is binary (DER) data, not PEM text; convert it first, e.g. `openssl x509 -inform der -in FILE -out FILE.pem` for a certificate',
    };
  }
  const text = (typeof data === 'string' ? data : data.toString('utf8')).replace(/\r\n?/g, '\n');
  const lines = text.split('\n');
  const blocks: PemBlock[] = [];
  let i = 0;
  while (i < lines.length) {
    const begin = /^-----BEGIN ([A-Z0-9 #._-]+)-----\s*$/.exec(lines[i]!.trim());
    if (!begin) {
      i++;
      continue;
    }
    const label = begin[1]!;
    const startLine = i + 1;
    const headers: Record<string, string> = {};
    const body: string[] = [];
    let j = i + 1;
    let ended = false;
    for (; j < lines.length; j++) {
      const l = lines[j]!.trim();
      if (l === `-----END ${label}-----`) {
        ended = true;
        break;
      }
      if (l.startsWith('-----BEGIN ')) break;
      const h = /^([A-Za-z-]+):\s*(.*)$/.exec(l);
      if (h && body.length === 0) headers[h[1]!] = h[2]!;
      else if (l) body.push(l);
    }
    if (!ended) {
      return {
        ok: false,
        problem: 'truncated-pem',
        line: startLine,
        message: `the ${label} that begins on line ${startLine} has no "-----END ${label}-----" line: the file is truncated or damaged`,
      };
    }
    const b64 = body.join('');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
      return {
        ok: false,
        problem: 'truncated-pem',
        line: startLine,
        message: `the ${label} that begins on line ${startLine} is not valid base64 (lines missing or altered): the file is truncated or damaged`,
      };
    }
    const der = Buffer.from(b64, 'base64');
    const textBlock = lines.slice(i, j + 1).map((l) => l.trim()).join('\n') + '\n';
    blocks.push({ label, headers, der, text: textBlock, line: startLine });
    i = j + 1;
  }
  if (blocks.length === 0) return { ok: false, problem: 'no-pem', message: 'no PEM block (-----BEGIN …-----) found' };
  return { ok: true, blocks };
}

/** PEM text of DER bytes, 64 columns. */
export function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export function toBinary(buf: Buffer | Uint8Array): string {
  return Buffer.from(buf).toString('binary');
}

export function fromBinary(bin: string): Buffer {
  return Buffer.from(bin, 'binary');
}

/** Parse DER strictly (all bytes, bit strings left raw so that re-encoding is byte-exact). Throws forge's error. */
export function parseDer(der: Buffer): Asn1 {
  const fromDer = asn1.fromDer as unknown as (b: string, o: object) => Asn1;
  return fromDer(toBinary(der), { strict: true, parseAllBytes: true, decodeBitStrings: false });
}

export function encodeDer(node: Asn1): Buffer {
  return fromBinary(asn1.toDer(node).getBytes());
}

export function children(node: Asn1): Asn1[] {
  return Array.isArray(node.value) ? node.value : [];
}

export function bytesOf(node: Asn1): string {
  return typeof node.value === 'string' ? node.value : '';
}

export function oidOf(node: Asn1): string {
  try {
    return asn1.derToOid(bytesOf(node));
  } catch {
    return 'unknown:' + fromBinary(bytesOf(node)).toString('hex');
  }
}

export const seq = (items: Asn1[]): Asn1 => asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, items);
export const set = (items: Asn1[]): Asn1 => asn1.create(Class.UNIVERSAL, Type.SET, true, items);
export const oid = (dotted: string): Asn1 => asn1.create(Class.UNIVERSAL, Type.OID, false, asn1.oidToDer(dotted).getBytes());
export const nul = (): Asn1 => asn1.create(Class.UNIVERSAL, Type.NULL, false, '');
export const octets = (bin: string): Asn1 => asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, bin);
export const bool = (v: boolean): Asn1 => asn1.create(Class.UNIVERSAL, Type.BOOLEAN, false, v ? '\xff' : '\x00');
export const integerBytes = (bin: string): Asn1 => asn1.create(Class.UNIVERSAL, Type.INTEGER, false, bin);
export const integer = (n: number): Asn1 => asn1.create(Class.UNIVERSAL, Type.INTEGER, false, asn1.integerToDer(n).getBytes());
/** BIT STRING with 0 unused bits. */
export const bits = (bin: string): Asn1 => asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, '\x00' + bin);
export const explicit = (tag: number, inner: Asn1): Asn1 => asn1.create(Class.CONTEXT_SPECIFIC, tag, true, [inner]);
export const implicitPrimitive = (tag: number, bin: string): Asn1 => asn1.create(Class.CONTEXT_SPECIFIC, tag, false, bin);

/** UTCTime before 2050, GeneralizedTime from 2050 on (RFC 5280 §4.1.2.5); whole seconds. */
export function timeNode(d: Date): Asn1 {
  const t = new Date(Math.floor(d.getTime() / 1000) * 1000);
  return t.getUTCFullYear() < 2050
    ? asn1.create(Class.UNIVERSAL, Type.UTCTIME, false, asn1.dateToUtcTime(t))
    : asn1.create(Class.UNIVERSAL, Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(t));
}

export function parseTime(node: Asn1): Date {
  return node.type === Type.UTCTIME ? asn1.utcTimeToDate(bytesOf(node)) : asn1.generalizedTimeToDate(bytesOf(node));
}

/** Upper-case hex pairs joined by `:` (openssl's fingerprint and key id style). */
export function colonHex(buf: Buffer | string): string {
  const b = typeof buf === 'string' ? fromBinary(buf) : buf;
  return (b.toString('hex').toUpperCase().match(/../g) ?? []).join(':');
}

/** Bits set in a DER BIT STRING value (raw bytes incl. the unused-bits count byte), bit 0 = most significant bit of the first byte. */
export function bitStringBits(raw: string): number[] {
  const out: number[] = [];
  const b = fromBinary(raw);
  for (let i = 1; i < b.length; i++) {
    for (let k = 0; k < 8; k++) if (b[i]! & (0x80 >> k)) out.push((i - 1) * 8 + k);
  }
  return out;
}

/** DER BIT STRING node holding the given named bits, trailing zero bits trimmed (X.690 §11.2.2). */
export function namedBitString(setBits: number[]): Asn1 {
  const max = Math.max(...setBits);
  const len = Math.floor(max / 8) + 1;
  const b = Buffer.alloc(len);
  for (const bit of setBits) b[Math.floor(bit / 8)]! |= 0x80 >> bit % 8;
  const unused = 7 - (max % 8);
  return asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, String.fromCharCode(unused) + toBinary(b));
}

/** Short names of the attributes used in certificate names. */
export const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '2.5.4.17': 'postalCode',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
};
const ATTRIBUTE_OIDS = Object.fromEntries(Object.entries(ATTRIBUTE_NAMES).map(([k, v]) => [v, k]));

export interface NameAttribute {
  /** Short name (CN, O, OU, C, ST, L, …) or the dotted OID when unknown. */
  type: string;
  oid: string;
  value: string;
}

/** A certificate name as read; `text` is `C=CN, O=k8s, CN=etcd` in certificate order (openssl's order). */
export interface DistinguishedName {
  text: string;
  attributes: NameAttribute[];
}

function decodeString(node: Asn1): string {
  const raw = bytesOf(node);
  if (node.type === Type.UTF8) return forge.util.decodeUtf8(raw);
  if (node.type === Type.BMPSTRING) return fromBinary(raw).swap16().toString('utf16le');
  if (node.tagClass !== Class.UNIVERSAL || typeof node.value !== 'string') return '#' + encodeDer(node).toString('hex');
  return raw;
}

export function parseName(node: Asn1): DistinguishedName {
  const attributes: NameAttribute[] = [];
  for (const rdn of children(node)) {
    for (const atv of children(rdn)) {
      const [o, v] = children(atv);
      if (!o || !v) continue;
      const dotted = oidOf(o);
      attributes.push({ type: ATTRIBUTE_NAMES[dotted] ?? dotted, oid: dotted, value: decodeString(v) });
    }
  }
  return { attributes, text: attributes.map((a) => `${a.type}=${a.value}`).join(', ') };
}

/** A subject given by the caller: short names → values, in the order written; `C` is a PrintableString, the rest UTF8String. */
export type SubjectSpec = Record<string, string> | NameAttribute[];

export function buildName(spec: SubjectSpec): Asn1 {
  const attrs: Array<{ oid: string; value: string; type: string }> = Array.isArray(spec)
    ? spec.map((a) => ({ oid: a.oid || ATTRIBUTE_OIDS[a.type] || a.type, value: a.value, type: a.type }))
    : Object.entries(spec).map(([k, v]) => ({ oid: ATTRIBUTE_OIDS[k] ?? k, value: v, type: k }));
  return seq(
    attrs.map((a) => {
      if (!/^\d+(\.\d+)+$/.test(a.oid)) throw new Error(`unknown name attribute "${a.type}"`);
      const printable = a.oid === '2.5.4.6' || a.oid === '2.5.4.5';
      const value = printable
        ? asn1.create(Class.UNIVERSAL, Type.PRINTABLESTRING, false, a.value)
        : asn1.create(Class.UNIVERSAL, Type.UTF8, false, forge.util.encodeUtf8(a.value));
      return set([seq([oid(a.oid), value])]);
    }),
  );
}
