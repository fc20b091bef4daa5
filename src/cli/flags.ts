// Command-line values checked in one place: numeric flags in a documented range, single-value flags given once, a
// non-blank --limit, PLAYBOOK named, `check -o FILE` writable. Runs as yargs middleware, before any file is read or host contacted.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { dirname, resolve } from 'node:path';
import type { Options } from 'yargs';
import { UsageError } from '../errors.js';

/** The range of a numeric flag (shown in --help and in the error message). */
export interface NumberRange {
  min: number;
  max: number;
  integer: boolean;
  /** What the number counts: `seconds`, `days`, `hosts`, `backups`. */
  unit: string;
}

/** Every numeric flag and its range (docs/input.md lists the same table). */
export const NUMBER_FLAGS = {
  pause: { min: 0, max: 3600, integer: false, unit: 'seconds' },
  forks: { min: 1, max: 1000, integer: true, unit: 'hosts' },
  'renew-within-days': { min: 0, max: 36500, integer: false, unit: 'days' },
  'warn-days': { min: 0, max: 36500, integer: false, unit: 'days' },
  keep: { min: 1, max: 100000, integer: true, unit: 'backups' },
  'reconnect-timeout': { min: 0, max: 86400, integer: false, unit: 'seconds' },
} as const satisfies Record<string, NumberRange>;
export type NumberFlag = keyof typeof NUMBER_FLAGS;

/** Flags that take one value: given twice (or under two aliases) is an error, not "the last one wins". */
export const SINGLE_VALUE_FLAGS = [
  'inventory',
  'limit',
  'playbook',
  'output',
  'format',
  'run',
  'resume',
  'from-backup',
  'on-failure',
  'explain-ssh',
  ...(Object.keys(NUMBER_FLAGS) as NumberFlag[]),
] as const;

/** `0-3600 seconds`, `an integer 1-1000`. */
export function describeRange(r: NumberRange): string {
  return `${r.integer ? 'an integer' : 'a number'} ${r.min}-${r.max}${r.unit ? ` (${r.unit})` : ''}`;
}

const clip = (s: string, n = 80) => (s.length > n ? `${s.slice(0, n)}…` : s);
const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(clip(v)) : String(v));

const NUMBER = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/** A flag's text as a finite number within its range; anything else (NaN, 1e309, -1, abc, 0x10, "") is a UsageError. */
export function parseNumberFlag(name: NumberFlag, raw: unknown): number {
  const r: NumberRange = NUMBER_FLAGS[name];
  const expected = `--${name}: expected ${describeRange(r)}`;
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string' && NUMBER.test(raw.trim())) n = Number(raw.trim());
  else throw new UsageError(`${expected}, got ${show(raw)}`);
  if (!Number.isFinite(n) || n < r.min || n > r.max || (r.integer && !Number.isInteger(n)))
    throw new UsageError(`${expected}, got ${show(raw)}`);
  return n;
}

/** yargs option for a numeric flag: read as text (so the message can quote what was typed), range in the help. */
export function numberOption(name: NumberFlag, describe: string, defaultValue?: number): Options {
  return {
    type: 'string',
    describe: `${describe}: ${describeRange(NUMBER_FLAGS[name])}`,
    ...(defaultValue !== undefined ? { default: defaultValue } : {}),
  };
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * yargs middleware (before validation): refuses a single-value flag given twice, converts every numeric flag to a number in
 * range, refuses an empty or blank --limit / --inventory. Mutates argv in place (both the kebab and camelCase keys).
 */
export function checkFlags(argv: Record<string, unknown>, y?: { parsed?: false | { defaulted?: Record<string, boolean> } }): void {
  // A flag given without a value (`--forks` at the end) gets the option's default from yargs, silently: refuse it. Given
  // flags are read as text, so a number that yargs did not mark as defaulted can only be that.
  const defaulted = (y?.parsed && y.parsed.defaulted) || undefined;
  for (const name of SINGLE_VALUE_FLAGS) {
    const v = argv[name];
    if (Array.isArray(v)) throw new UsageError(`--${name} given ${v.length} times (${v.map(show).join(', ')}): give it once`);
  }
  for (const name of Object.keys(NUMBER_FLAGS) as NumberFlag[]) {
    if (argv[name] === undefined) continue;
    if (typeof argv[name] === 'number' && defaulted && !defaulted[name]) throw new UsageError(`--${name}: expected ${describeRange(NUMBER_FLAGS[name])}, got nothing`);
    const n = parseNumberFlag(name, argv[name]);
    argv[name] = n;
    if (camel(name) !== name) argv[camel(name)] = n;
  }
  for (const name of ['limit', 'inventory'] as const) {
    const v = argv[name];
    if (typeof v === 'string' && v.trim() === '')
      throw new UsageError(name === 'limit' ? '--limit: empty; a limit must name hosts or groups (leave --limit out to select every host)' : '--inventory: empty; name the inventory file with -i FILE');
  }
}

/** The PLAYBOOK positional of `plan` and `run`: present and not blank. */
export function requirePlaybook(command: string, playbook: unknown, alternative = ''): string {
  if (typeof playbook !== 'string' || playbook.trim() === '')
    throw new UsageError(`missing PLAYBOOK: certroll ${command} -i INVENTORY PLAYBOOK${alternative}`);
  return playbook;
}

/**
 * `check -o FILE`: refuses, before any host is contacted, a FILE whose directory does not exist or is not writable, or a FILE
 * that is a directory or anything but a regular file.
 */
export function checkOutputFile(file: unknown): void {
  if (file === undefined) return;
  if (typeof file !== 'string' || file.trim() === '') throw new UsageError('--output: empty; name the file to write');
  const abs = resolve(file);
  const dir = dirname(abs);
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    throw new UsageError(`--output ${clip(file)}: the directory ${clip(dir)} does not exist (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  if (!st.isDirectory()) throw new UsageError(`--output ${clip(file)}: ${clip(dir)} is not a directory`);
  // Prove the directory takes a new file (as the atomic write will need): permissions, read-only mounts, /proc.
  const probe = join(dir, `.certroll-probe-${randomBytes(4).toString('hex')}`);
  try {
    closeSync(openSync(probe, 'wx', 0o600));
    unlinkSync(probe);
  } catch (e) {
    throw new UsageError(`--output ${clip(file)}: cannot create a file in ${clip(dir)} (${(e as NodeJS.ErrnoException).code ?? 'not writable'})`);
  }
  try {
    const f = statSync(abs);
    if (!f.isFile()) throw new UsageError(`--output ${clip(file)}: exists and is not a regular file`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
  }
}
