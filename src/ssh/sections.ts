// Several scripts run on one host in one exec round trip, one after the other, each in its own subshell; the output is
// split back into one section per script, with that script's exit code. What one phase of a step needs from a host is
// one of these (preflight: facts, lock, write probe, CA key, cluster query).
import { randomBytes } from 'node:crypto';
import type { ExecOptions, Remote } from './remote.js';

export interface ScriptPart {
  /** A word ([A-Za-z0-9_-]) naming the section. */
  name: string;
  /** Shell text already built with sh`` (every value quoted). */
  script: string;
  /** This part reads the command's stdin (at most one part does); the others read /dev/null. */
  stdin?: boolean;
}

export interface SectionResult {
  stdout: string;
  exitCode: number;
}

export interface SectionsResult {
  /** The sections that ran, by name; a part missing here did not run (the script was cut off before it). */
  sections: Map<string, SectionResult>;
  /** The whole script's stderr (every part's, in order). */
  stderr: string;
  exitCode: number | null;
}

/**
 * One script running `parts` in order. After each part a marker line with a random tag (which no file content can
 * guess) and the part's exit code closes its section; a part's failure does not stop the next one.
 */
export function sectionsScript(parts: readonly ScriptPart[], tag = randomBytes(8).toString('hex')): { script: string; marker: string } {
  const marker = `@@certroll-${tag}`;
  const seen = new Set<string>();
  for (const p of parts) {
    if (!/^[A-Za-z0-9_-]+$/.test(p.name) || seen.has(p.name)) throw new TypeError(`sectionsScript: bad or repeated section name ${JSON.stringify(p.name)}`);
    seen.add(p.name);
  }
  if (parts.filter((p) => p.stdin).length > 1) throw new TypeError('sectionsScript: only one part may read stdin');
  const script = parts.map((p) => `(\n${p.script}\n)${p.stdin ? '' : ' </dev/null'}\nprintf '\\n%s %s %d\\n' ${marker} ${p.name} $?`).join('\n');
  return { script, marker };
}

/** Split the output of sectionsScript by its markers. */
export function parseSections(stdout: string, marker: string): Map<string, SectionResult> {
  const out = new Map<string, SectionResult>();
  const re = new RegExp(`\\n${marker} ([A-Za-z0-9_-]+) (\\d+)\\n`, 'g');
  let from = 0;
  for (let m = re.exec(stdout); m; m = re.exec(stdout)) {
    out.set(m[1]!, { stdout: stdout.slice(from, m.index), exitCode: Number(m[2]) });
    from = m.index + m[0].length;
  }
  return out;
}

/** Run `parts` on `r` in one exec and return each part's output and exit code. Never throws for a part's failure. */
export async function runSections(r: Remote, parts: readonly ScriptPart[], opts: Omit<ExecOptions, 'allowFailure'> = {}): Promise<SectionsResult> {
  const { script, marker } = sectionsScript(parts);
  const res = await r.sh(script, { ...opts, allowFailure: true });
  return { sections: parseSections(res.stdout, marker), stderr: res.stderr, exitCode: res.exitCode };
}
