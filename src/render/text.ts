// Text for humans, one place for all commands: the palette (colours or none), aligned tables, remaining time, folded host lists (pure).
import { stripVTControlCharacters } from 'node:util';

export type Paint = (s: string) => string;
export interface Palette {
  red: Paint;
  yellow: Paint;
  green: Paint;
  bold: Paint;
  dim: Paint;
  cyan: Paint;
}

const sgr = (open: number, close: number): Paint => (s) => `\x1b[${open}m${s}\x1b[${close}m`;
const plain: Paint = (s) => s;

export function palette(color: boolean): Palette {
  if (!color) return { red: plain, yellow: plain, green: plain, bold: plain, dim: plain, cyan: plain };
  return { red: sgr(31, 39), yellow: sgr(33, 39), green: sgr(32, 39), bold: sgr(1, 22), dim: sgr(2, 22), cyan: sgr(36, 39) };
}

export interface Column<Row> {
  header: string;
  get: (row: Row) => string;
  align?: 'left' | 'right';
}

/** An aligned text table (widths measured without ANSI colour codes). */
export function renderTable<Row>(rows: Row[], columns: Column<Row>[]): string {
  const cells = rows.map((r) => columns.map((c) => c.get(r)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => visibleLength(row[i]!))));
  const pad = (s: string, i: number) => {
    const fill = ' '.repeat(Math.max(0, widths[i]! - visibleLength(s)));
    return columns[i]!.align === 'right' ? fill + s : s + fill;
  };
  const lines = [columns.map((c, i) => pad(c.header, i)).join('  ').trimEnd()];
  for (const row of cells) lines.push(row.map((s, i) => pad(s, i)).join('  ').trimEnd());
  return lines.join('\n');
}

export function visibleLength(s: string): number {
  return stripVTControlCharacters(s).length;
}

/** "3y 41d", "20d 4h", "5h 12m", "expired 3d ago". */
export function formatRemaining(ms: number): string {
  const neg = ms < 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const y = Math.floor(s / (365 * 86400));
  s -= y * 365 * 86400;
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  const text = y > 0 ? `${y}y ${d}d` : d > 0 ? `${d}d ${h}h` : `${h}h ${m}m`;
  return neg ? `expired ${text} ago` : text;
}

export interface FoldOptions {
  /** How many hosts there are in all: `all N` when every one is listed, `N of M: …` otherwise. */
  total?: number;
  /** Every name, unfolded (--wide). */
  wide?: boolean;
  /** Longest list text before the rest is only counted. */
  maxChars?: number;
}

/** Runs of names that differ only by a number counting up by one, in the order given: tos-2, tos-3, tos-4 → tos-2–4. */
export function hostRanges(hosts: readonly string[]): Array<{ text: string; count: number }> {
  const out: Array<{ text: string; count: number }> = [];
  const split = (h: string) => /^(.*?)(\d+)$/.exec(h);
  for (let i = 0; i < hosts.length; ) {
    const m = split(hosts[i]!);
    let j = i + 1;
    if (m) {
      while (j < hosts.length) {
        const n = split(hosts[j]!);
        if (!n || n[1] !== m[1] || Number(n[2]) !== Number(m[2]) + (j - i) || n[2]!.length !== String(Number(n[2])).length) break;
        j++;
      }
    }
    if (m && j - i >= 3) {
      const prefix = m[1]!;
      const tail = prefix.slice(prefix.search(/[^-._:]*$/));
      out.push({ text: `${hosts[i]}–${tail}${split(hosts[j - 1]!)![2]}`, count: j - i });
      i = j;
    } else {
      out.push({ text: hosts[i]!, count: 1 });
      i++;
    }
  }
  return out;
}

/**
 * A list of hosts that stays readable at fleet size: `all 205`, `tos-1, tos-2`, `200 of 205: x1–x200`, or the first few
 * and a count (`12 of 205: a, b, c, … +9 more`); `wide` gives every name.
 */
export function foldHosts(hosts: readonly string[], opts: FoldOptions = {}): string {
  if (opts.wide) return hosts.join(', ');
  const { total } = opts;
  const max = opts.maxChars ?? 72;
  if (total !== undefined && hosts.length === total && total > 3) return `all ${total}`;
  const parts = hostRanges(hosts);
  const text = parts.map((x) => x.text).join(', ');
  const count = hosts.length > 3 ? `${hosts.length}${total !== undefined ? ` of ${total}` : ' hosts'}: ` : '';
  if (text.length <= max) return (total !== undefined ? count : '') + text;
  const shown: string[] = [];
  let n = 0;
  for (const x of parts) {
    if ([...shown, x.text].join(', ').length > max - 16 && shown.length) break;
    shown.push(x.text);
    n += x.count;
  }
  return `${count}${shown.join(', ')}, … +${hosts.length - n} more`;
}
