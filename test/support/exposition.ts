// Test helper: checks Prometheus text exposition strictly (the 0.0.4 text format), and with `promtool check metrics` when installed.
import { spawnSync } from 'node:child_process';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const VALUE = /^(-?(\d+(\.\d+)?([eE][+-]?\d+)?)|NaN|[+-]Inf)$/;

/** Every problem with the text, as `line N: …` messages (empty when valid). */
export function expositionProblems(text: string): string[] {
  const problems: string[] = [];
  if (!text.endsWith('\n')) problems.push('the text does not end with a line feed');
  const typed = new Map<string, string>();
  const helped = new Set<string>();
  const seenSeries = new Set<string>();
  const finished = new Set<string>();
  let current = '';
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, i) => {
    const at = `line ${i + 1}`;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) problems.push(`${at}: bad metric name ${name}`);
      if (finished.has(name)) problems.push(`${at}: ${kind} for ${name} after its samples ended (families must be contiguous)`);
      if (kind === 'TYPE') {
        if (typed.has(name)) problems.push(`${at}: second TYPE for ${name}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) problems.push(`${at}: unknown type ${rest}`);
        typed.set(name, rest);
      } else {
        if (helped.has(name)) problems.push(`${at}: second HELP for ${name}`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) problems.push(`${at}: bad escape in HELP`);
        helped.add(name);
      }
      if (current && current !== name) finished.add(current);
      current = name;
      return;
    }
    if (line.startsWith('#')) return;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (!m) {
      problems.push(`${at}: not a sample line: ${JSON.stringify(line.slice(0, 120))}`);
      return;
    }
    const [, name, , body, value] = m as unknown as [string, string, string | undefined, string | undefined, string];
    if (finished.has(name)) problems.push(`${at}: sample of ${name} after its family ended (families must be contiguous)`);
    if (current && current !== name) finished.add(current);
    current = name;
    if (!typed.has(name)) problems.push(`${at}: sample of ${name} before its TYPE line`);
    if (!VALUE.test(value)) problems.push(`${at}: bad value ${value}`);
    const names: string[] = [];
    const pairs: string[] = [];
    let rest = body ?? '';
    while (rest.length) {
      const lm = /^([^=]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
      if (!lm) {
        problems.push(`${at}: bad label set {${body}}`);
        break;
      }
      if (!LABEL.test(lm[1]!) || lm[1]!.startsWith('__')) problems.push(`${at}: bad label name ${lm[1]}`);
      names.push(lm[1]!);
      pairs.push(`${lm[1]}=${lm[2]}`);
      rest = rest.slice(lm[0].length);
    }
    if (new Set(names).size !== names.length) problems.push(`${at}: duplicate label name`);
    const key = `${name}\0${pairs.sort().join('\0')}`;
    if (seenSeries.has(key)) problems.push(`${at}: duplicate series ${name}{${body ?? ''}}`);
    seenSeries.add(key);
  });
  return problems;
}

/** `promtool check metrics` on the text: undefined when promtool is not installed, else its exit code and output. */
export function promtoolCheck(text: string): { code: number; output: string } | undefined {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}
