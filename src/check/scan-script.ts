// Builds the one POSIX sh script that `check` runs on each host: expands the check globs remotely and prints only certificate text.
//
// What crosses the wire, by construction (the awk program below is the filter):
//   - lines inside `-----BEGIN CERTIFICATE-----` … `-----END CERTIFICATE-----` blocks, and only while they look like base64;
//   - from kubeconfig files, only the structural lines (section keys, list items, `name:`) and the
//     `client-certificate-data:` / `certificate-authority-data:` lines, and only when the file has such a line;
//   - one flag per file saying that it holds a `PRIVATE KEY-----` block (never its content);
//   - for a symbolic link, its target (`readlink -f`), or that it points nowhere;
//   - whether each probed path exists (kubeadm's CA keys: `test -e` only, never opened);
//   - a file a kubeconfig names as its `client-certificate:` is read like a matched one (its certificate blocks), or
//     reported missing.
// A private key block ends a certificate block that has no END line, so a damaged file cannot leak key lines either.
import { quote } from '../ssh/quote.js';
import { UsageError } from '../errors.js';

/** Version of the line protocol below; the parser refuses output of another version. */
export const SCAN_PROTOCOL = 'certroll-scan 2';

/**
 * Expand `{a,b}` alternatives (POSIX sh has no brace expansion): `/x/*.{crt,pem}` → `/x/*.crt`, `/x/*.pem`.
 * Nested braces work; a brace without a comma or without its closing brace stays literal.
 */
export function expandBraces(pattern: string): string[] {
  const open = findBraceOpen(pattern);
  if (open < 0) return [pattern];
  let depth = 0;
  const commas: number[] = [];
  let close = -1;
  for (let i = open; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) {
        close = i;
        break;
      }
    } else if (c === ',' && depth === 1) commas.push(i);
  }
  if (close < 0 || commas.length === 0) {
    // Not an alternative: keep `{` literal and expand what follows.
    return expandBraces(pattern.slice(open + 1)).map((rest) => pattern.slice(0, open + 1) + rest);
  }
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const bounds = [open, ...commas, close];
  const out: string[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const alt = pattern.slice(bounds[k]! + 1, bounds[k + 1]!);
    for (const e of expandBraces(head + alt + tail)) if (!out.includes(e)) out.push(e);
  }
  return out;
}

function findBraceOpen(s: string): number {
  return s.indexOf('{');
}

/** Problems with a check path, as messages (the caller locates them in the inventory). */
export function checkPathProblem(pattern: string): string | undefined {
  if (!pattern.startsWith('/')) return `expected an absolute path or glob, got ${JSON.stringify(pattern)}`;
  if (/[\0\n\r]/.test(pattern)) return 'a check path cannot contain NUL or line breaks';
  for (const m of pattern.matchAll(/\[([^\]]*)\]/g)) {
    if (!/^!?[A-Za-z0-9._-]+$/.test(m[1]!)) {
      return `bracket expression ${m[0]} may only list letters, digits, '.', '_' and '-' (optionally after '!')`;
    }
  }
  if (/[[\]]/.test(pattern.replace(/\[[^\]]*\]/g, ''))) return 'unbalanced [ ] in a check path';
  return undefined;
}

type Token = { kind: 'lit'; text: string } | { kind: 'star' } | { kind: 'any' } | { kind: 'class'; negate: boolean; body: string };

function tokenize(segment: string): Token[] {
  const out: Token[] = [];
  let lit = '';
  const flush = () => {
    if (lit) out.push({ kind: 'lit', text: lit });
    lit = '';
  };
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') {
      flush();
      // `a**b` inside one segment is just a star.
      if (out.at(-1)?.kind !== 'star') out.push({ kind: 'star' });
    } else if (c === '?') {
      flush();
      out.push({ kind: 'any' });
    } else if (c === '[') {
      const end = segment.indexOf(']', i + 1);
      flush();
      let body = segment.slice(i + 1, end);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      out.push({ kind: 'class', negate, body });
      i = end;
    } else lit += c;
  }
  flush();
  return out;
}

const hasGlob = (segment: string) => /[*?[]/.test(segment);

/** The pattern as sh glob text: literal runs quoted, wildcards left bare. */
function shellGlob(pattern: string): string {
  return pattern
    .split('/')
    .map((seg) =>
      tokenize(seg)
        .map((t) => {
          switch (t.kind) {
            case 'lit':
              return quote(t.text);
            case 'star':
              return '*';
            case 'any':
              return '?';
            case 'class':
              return `[${t.negate ? '!' : ''}${t.body}]`;
          }
        })
        .join(''),
    )
    .join('/');
}

/** An anchored POSIX ERE equivalent to the glob, where `**` as a whole segment spans zero or more directories. */
export function globToEre(pattern: string): string {
  const segs = pattern.split('/').slice(1);
  let re = '^';
  for (const seg of segs) {
    if (seg === '**') {
      re += '(/[^/]+)*';
      continue;
    }
    re += '/';
    for (const t of tokenize(seg)) {
      switch (t.kind) {
        case 'lit':
          for (const ch of t.text) re += /[A-Za-z0-9_-]/.test(ch) ? ch : ch === '\\' ? '\\\\' : ch === '^' ? '\\^' : `[${ch}]`;
          break;
        case 'star':
          re += '[^/]*';
          break;
        case 'any':
          re += '[^/]';
          break;
        case 'class':
          re += `[${t.negate ? '^' : ''}${t.body}]`;
          break;
      }
    }
  }
  return re + '$';
}

/** An awk string literal holding `s`. */
function awkString(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

export interface ScanScriptOptions {
  /** Absolute globs; `{a,b}` alternatives and `**` (any depth) allowed. */
  paths: readonly string[];
  /** Exact paths whose existence only is reported (`test -e`; never opened): kubeadm's CA keys. */
  probes?: readonly string[];
}

/**
 * The shell function every candidate goes through: a regular file (or a link to one) is listed, a link preceded by
 * its target (`<TAB>L/target`), a dangling link listed with `<TAB>B/target`. Lines starting with a tab cannot be
 * paths (every candidate is absolute), so awk tells them apart.
 */
const EMIT = `e() { if [ -f "$1" ]; then [ -L "$1" ] && printf '\\tL%s\\n' "$(readlink -f -- "$1" 2>/dev/null || readlink -- "$1" 2>/dev/null)"; printf '%s\\n' "$1"; elif [ -L "$1" ]; then printf '\\tB%s\\n' "$(readlink -- "$1" 2>/dev/null)"; printf '%s\\n' "$1"; fi; }`;

/** One candidate-listing command per expanded glob. */
function listCommand(pattern: string): string {
  const segs = pattern.split('/');
  const starStar = segs.indexOf('**');
  if (starStar < 0) {
    // Plain glob: expanded by the remote sh itself, no process started. Unmatched globs stay literal and fail -f / -L.
    return `for f in ${shellGlob(pattern)}; do e "$f"; done`;
  }
  // `**` needs find (POSIX sh globs do not recurse). Start at the deepest directory without wildcards.
  const firstGlob = segs.findIndex((s, i) => i > 0 && hasGlob(s));
  const base = segs.slice(0, firstGlob).join('/') || '/';
  const last = segs.at(-1)!;
  const name = last !== '**' ? ` -name ${shellGlob(last)}` : '';
  // -L follows symlinks (kubelet-client-current.pem is one; a dangling one stays type l); the awk filter below
  // applies the exact pattern.
  return `[ -d ${quote(base)} ] && find -L ${quote(base)} \\( -type f -o -type l \\)${name} 2>/dev/null | while IFS= read -r f; do e "$f"; done`;
}

/** Probes: `<TAB>P/path` when the path exists, `<TAB>A/path` when it does not. */
function probeCommand(paths: readonly string[]): string {
  return `for f in ${paths.map(quote).join(' ')}; do if [ -e "$f" ]; then printf '\\tP%s\\n' "$f"; else printf '\\tA%s\\n' "$f"; fi; done`;
}

/**
 * The awk program: reads candidate paths on stdin, keeps those matching one of the patterns (each path once),
 * and prints, per file, only what the header comment allows. Portable to mawk, gawk and busybox awk.
 */
function awkProgram(regexes: string[]): string {
  return `
BEGIN {
  ${regexes.map((r, i) => `re[${i + 1}] = ${awkString(r)}`).join('; ')}
  nre = ${regexes.length}
  nfiles = 0; nq = 0; lk = ""
  print ${awkString(SCAN_PROTOCOL)}
}
{
  p = $0
  if (substr(p, 1, 1) == "\\t") {
    k = substr(p, 2, 1); v = substr(p, 3)
    if (k == "L" || k == "B") { lk = k; lt = v }
    else if (k == "P" || k == "A") print k "\\t" v
    next
  }
  k = lk; t = lt; lk = ""
  if (p == "" || (p in seen)) next
  ok = 0
  for (i = 1; i <= nre; i++) if (p ~ re[i]) { ok = 1; break }
  if (!ok) next
  seen[p] = 1
  scan(p, k, t)
}
END {
  # Files that kubeconfigs name as their client certificate, when no glob matched them.
  for (j = 1; j <= nq; j++) {
    q = queue[j]
    if (q in seen) continue
    seen[q] = 1
    cmd = "[ -L " sq(q) " ] && readlink -f -- " sq(q) " 2>/dev/null; [ -f " sq(q) " ] && echo =f"
    isf = 0; tg = ""; lnk = ""
    while ((cmd | getline l) > 0) { if (l == "=f") isf = 1; else { lnk = "L"; tg = l } }
    close(cmd)
    if (isf) scan(q, lnk, tg)
    else print "M\\t" q
  }
  print "D\\t" nfiles
}
function sq(s) { gsub(/'/, "'\\"'\\"'", s); return "'" s "'" }
function scan(p, lk, lt,   line, r, incert, key, kdata, kn, i, ncert, v, d) {
  print "F\\t" p
  if (lk == "L") print "L\\t" lt
  if (lk == "B") { print "B\\t" lt; print "E\\t-"; nfiles++; return }
  incert = 0; key = 0; kdata = 0; kn = 0; ncert = 0
  while ((r = (getline line < p)) > 0) {
    sub(/\\r$/, "", line)
    if (incert) {
      if (line ~ /^-----END CERTIFICATE-----[ \\t]*$/) { print "C\\t" line; incert = 0; continue }
      if (line ~ /^[ \\t]*[A-Za-z0-9+\\/=]*[ \\t]*$/) { print "C\\t" line; continue }
      incert = 0
      print "C\\t-----TRUNCATED-----"
    }
    if (line ~ /^-----BEGIN CERTIFICATE-----[ \\t]*$/) { incert = 1; ncert++; print "C\\t" line; continue }
    if (line ~ /PRIVATE KEY-----/) { key = 1; continue }
    if (line ~ /^[ \\t]*(- )?[ \\t]*"?(client-certificate-data|certificate-authority-data)"?[ \\t]*:/) { kdata++; kl[++kn] = line; continue }
    if (line ~ /^[ \\t]*(- )?[ \\t]*"?client-certificate"?[ \\t]*:[ \\t]*[^ \\t]/) {
      kdata++; kl[++kn] = line
      v = line
      sub(/^[^:]*:[ \\t]*/, "", v); sub(/[ \\t]*,?[ \\t]*$/, "", v); gsub(/^["']|["']$/, "", v)
      if (v != "") {
        if (substr(v, 1, 1) != "/") { d = p; sub(/\\/[^\\/]*$/, "", d); v = d "/" v }
        queue[++nq] = v
      }
      continue
    }
    if (line ~ /^(clusters|users|contexts|current-context|kind|apiVersion|preferences)[ \\t]*:/ || line ~ /^[ \\t]*(- )?[ \\t]*name[ \\t]*:/ || line ~ /^[ \\t]*- [A-Za-z-]+[ \\t]*:[ \\t]*$/ || line ~ /^[ \\t]*(cluster|user)[ \\t]*:[ \\t]*[^ \\t]/) {
      if (line !~ /[Kk][Ee][Yy]|[Tt][Oo][Kk][Ee][Nn]|[Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]|[Ss][Ee][Cc][Rr][Ee][Tt]/) kl[++kn] = line
    }
  }
  if (r < 0) print "X\\tunreadable"
  else close(p)
  if (incert) print "C\\t-----TRUNCATED-----"
  if (kdata) for (i = 1; i <= kn; i++) print "Y\\t" kl[i]
  for (i = 1; i <= kn; i++) delete kl[i]
  print "E\\t" (key ? "private-key" : "-")
  nfiles++
}
`;
}

/**
 * The whole script, to run with Remote.sh(): prints the SCAN_PROTOCOL header, one record per file (and `P`/`A` probe,
 * `M` missing-reference records between them), then `D<TAB><count>`.
 */
export function buildScanScript(opts: ScanScriptOptions): string {
  const expanded: string[] = [];
  for (const p of opts.paths) {
    const problem = checkPathProblem(p);
    if (problem) throw new UsageError(`check path ${JSON.stringify(p)}: ${problem}`);
    for (const e of expandBraces(p)) if (!expanded.includes(e)) expanded.push(e);
  }
  for (const p of opts.probes ?? []) {
    if (!p.startsWith('/') || /[\0\n\r]/.test(p)) throw new UsageError(`probe path ${JSON.stringify(p)}: expected an absolute path without line breaks`);
  }
  const lists = expanded.map(listCommand);
  if (opts.probes?.length) lists.push(probeCommand(opts.probes));
  const regexes = expanded.map(globToEre);
  return [
    'LC_ALL=C; export LC_ALL',
    EMIT,
    '{',
    ...lists.map((l) => `  ${l}`),
    `} | awk ${quote(awkProgram(regexes))}`,
  ].join('\n');
}
