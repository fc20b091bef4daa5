// The one place where values become remote shell text: POSIX single-quote quoting, the sh`` template and the raw() escape hatch.
import { Secret } from '../secret.js';

/** Characters that need no quoting in any POSIX shell, in any word position (no `=`, `~`, globs, or expansions). */
const SAFE = /^[A-Za-z0-9_\-.,:/@%+]+$/;

/** A trusted fragment of shell text that sh`` inserts as is. Build it only from constants or other quoted text. */
export class ShellFragment {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Marks trusted shell text (operators, redirections, a script already built with sh``) so that sh`` does not quote it. */
export function raw(text: string): ShellFragment {
  return new ShellFragment(text);
}

/**
 * Quote one value for a POSIX shell so that it reaches the command as exactly one argument, byte for byte.
 * Plain words (`/srv/kubernetes/etcd.pem`) stay readable; anything else is single-quoted with `'` written as `'\''`.
 * A leading `-` is not a shell matter: pass `--` to the command when a value may start with one.
 */
export function quote(value: string): string {
  if (typeof value !== 'string') {
    if ((value as unknown) instanceof Secret) throw new TypeError('a Secret cannot be put on a remote command line: send it on stdin');
    throw new TypeError(`quote() expects a string, got ${typeof value}`);
  }
  if (value.includes('\0')) throw new TypeError('a NUL byte cannot be passed through a remote shell');
  if (value === '') return "''";
  if (SAFE.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Quote every element of argv and join them with spaces: the command line for exec(argv). */
export function quoteArgv(argv: readonly string[]): string {
  if (argv.length === 0) throw new TypeError('empty argv');
  return argv.map(quote).join(' ');
}

export type ShellValue = string | number | bigint | ShellFragment | readonly (string | number | bigint | ShellFragment)[];

function render(v: ShellValue): string {
  if (v instanceof ShellFragment) return v.text;
  if (typeof v === 'number' || typeof v === 'bigint') return quote(String(v));
  if (typeof v === 'string') return quote(v);
  if (Array.isArray(v)) return v.map((x) => render(x as ShellValue)).join(' ');
  if ((v as unknown) instanceof Secret) throw new TypeError('a Secret cannot be put on a remote command line: send it on stdin');
  throw new TypeError(`sh\`\`: cannot interpolate a value of type ${typeof v}`);
}

/**
 * Build shell text where every interpolated value is quoted: sh`mv -- ${from} ${to}`.
 * Arrays become several quoted words; raw(...) fragments are inserted unquoted.
 * To nest one sh`` inside another, wrap the inner one in raw().
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): string {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return out;
}
