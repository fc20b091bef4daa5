// Several scripts run on one host in one exec round trip, one after the other (or at the same time: `concurrently`), each
// in its own subshell; the output is split back into one section per script, with that script's exit code. What one phase of a step needs from a host is
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
  /**
   * This part runs at the same time as the others (`concurrently`): the parts without it run one after the other as
   * usual, alongside it. For a read-only part that depends on nothing the others do (a cluster query). Cannot read stdin.
   */
  alongside?: boolean;
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
export function sectionsScript(parts: readonly ScriptPart[], tag = randomBytes(8).toString('hex'), opts: { concurrent?: boolean } = {}): { script: string; marker: string } {
  const marker = `@@certroll-${tag}`;
  const seen = new Set<string>();
  for (const p of parts) {
    if (!/^[A-Za-z0-9_-]+$/.test(p.name) || seen.has(p.name)) throw new TypeError(`sectionsScript: bad or repeated section name ${JSON.stringify(p.name)}`);
    seen.add(p.name);
  }
  if (parts.filter((p) => p.stdin).length > 1) throw new TypeError('sectionsScript: only one part may read stdin');
  if (parts.some((p) => p.stdin && (p.alongside || opts.concurrent))) throw new TypeError('sectionsScript: concurrent parts cannot read stdin');
  const block = (p: ScriptPart) => `(\n${p.script}\n)${p.stdin ? '' : ' </dev/null'}\nprintf '\\n%s %s %d\\n' ${marker} ${p.name} $?`;
  const alongside = (p: ScriptPart) => opts.concurrent || p.alongside;
  // The parts in sequence are the first block of `concurrently` (the one that keeps the command's stdin).
  const inSequence = parts.filter((p) => !alongside(p)).map(block).join('\n');
  const blocks = [...(inSequence ? [inSequence] : []), ...parts.filter(alongside).map(block)];
  return { script: concurrently(blocks), marker };
}

/** The most blocks `concurrently` runs at once: each waiting block holds a shell file descriptor (3 to 9). */
export const MAX_CONCURRENT = 8;

/**
 * A script that runs `blocks` at the same time and prints their stdout in the order given, whole and not interleaved,
 * without writing any file on the host: each block but the last writes into a pipe (one nested pipeline per block, each
 * pipe's read end kept on a file descriptor of its own), the last is captured, and the reader copies the pipes out in
 * order once the last is done. A block bigger than a pipe (64 KiB) simply waits for its turn to be read. Stderr is shared
 * (lines of different blocks may mix). More than MAX_CONCURRENT blocks run in groups of that many, one group after the
 * other. Each block is shell text already built with sh``; the first keeps the command's stdin, the others should not read it.
 */
export function concurrently(blocks: readonly string[]): string {
  if (blocks.length <= 1) return blocks.join('\n');
  // (The first block keeps the command's stdin: it is the pipeline's first element.)
  if (blocks.length > MAX_CONCURRENT) {
    const groups: string[] = [];
    for (let i = 0; i < blocks.length; i += MAX_CONCURRENT) groups.push(concurrently(blocks.slice(i, i + MAX_CONCURRENT)));
    return groups.join('\n');
  }
  const n = blocks.length;
  // fd 3+i holds block i's pipe for i < n-2; block n-2's pipe is the innermost reader's stdin; block n-1 is captured.
  const reads = [...blocks.slice(0, n - 2).map((_, i) => `cat <&${3 + i}`), 'cat', `printf '%s' "\${certroll_last%.}"`];
  let script = `certroll_last=$(\n{\n${blocks[n - 1]}\n}\necho .)\n${reads.join('\n')}`;
  for (let i = n - 2; i >= 0; i--) script = `{\n${blocks[i]}\n} | {\n${i < n - 2 ? `exec ${3 + i}<&0\n` : ''}${script}\n}`;
  return script;
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

/**
 * Run `parts` on `r` in one exec and return each part's output and exit code. Never throws for a part's failure.
 * `concurrent`: the parts run at the same time (`concurrently`; none may read stdin, and their stderr lines may mix).
 */
export async function runSections(r: Remote, parts: readonly ScriptPart[], opts: Omit<ExecOptions, 'allowFailure'> & { concurrent?: boolean } = {}): Promise<SectionsResult> {
  const { concurrent, ...execOpts } = opts;
  const { script, marker } = sectionsScript(parts, undefined, { concurrent });
  const res = await r.sh(script, { ...execOpts, allowFailure: true });
  return { sections: parseSections(res.stdout, marker), stderr: res.stderr, exitCode: res.exitCode };
}
