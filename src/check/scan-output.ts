// Parses the stdout of the scan script (./scan-script.ts) into per-file records: certificate PEM text, kubeconfig lines, flags.
import { SCAN_PROTOCOL } from './scan-script.js';

/** One file the scan script matched, as it reported it. */
export interface ScannedFile {
  path: string;
  /** The file's `-----BEGIN CERTIFICATE-----` blocks, in order, as text (nothing else of the file is ever sent). */
  pemBlocks: string[];
  /** A certificate block was cut short (no END line, or a non-base64 line inside it). */
  damagedBlocks: number;
  /** Structural and `*-certificate-data` lines of a kubeconfig (empty for other files). */
  kubeconfigLines: string[];
  /** The file holds a `PRIVATE KEY` block (its content was not read). */
  hasPrivateKey: boolean;
  /** The file matched but could not be opened (permissions). */
  unreadable: boolean;
  /** The path is a symbolic link to this file (`readlink -f`; '' when the host has no readlink). */
  linkTarget?: string;
  /** The path is a symbolic link that points nowhere (to this target). */
  danglingTo?: string;
}

/** What the scan says beside the files: probed paths, and files kubeconfigs name that do not exist. */
export interface ScanExtras {
  /** Probed paths that exist. */
  present: string[];
  /** Probed paths that do not. */
  absent: string[];
  /** Files named by a kubeconfig's `client-certificate:` that do not exist. */
  missing: string[];
}

export type ScanParse =
  | ({ ok: true; files: ScannedFile[] } & ScanExtras)
  | { ok: false; problem: string; files: ScannedFile[] };

export interface ParseOptions {
  /** The header line (default: the file scan's). */
  protocol?: string;
  /** Handles a record tag this parser does not know; returns false when it does not know it either. */
  extra?: (tag: string, rest: string) => boolean;
}

/** Parse the scan script's output. Incomplete output (no final `D` line, wrong count) is reported, with what was read. */
export function parseScanOutput(stdout: string, opts: ParseOptions = {}): ScanParse {
  const protocol = opts.protocol ?? SCAN_PROTOCOL;
  const lines = stdout.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const files: ScannedFile[] = [];
  // Lines before the header come from the login shell's rc files (an `echo` in .bashrc): skipped.
  const start = lines.indexOf(protocol);
  if (start < 0) {
    return { ok: false, problem: `unexpected output from the scan script (expected "${protocol}", got ${JSON.stringify((lines[0] ?? '').slice(0, 80))})`, files };
  }
  let cur: ScannedFile | undefined;
  let block: string[] | undefined;
  let done: number | undefined;
  const extras: ScanExtras = { present: [], absent: [], missing: [] };
  const endBlock = (damaged: boolean) => {
    if (!cur || !block) return;
    if (damaged) cur.damagedBlocks++;
    else cur.pemBlocks.push(block.join('\n') + '\n');
    block = undefined;
  };
  for (let n = start + 1; n < lines.length; n++) {
    const line = lines[n]!;
    const tab = line.indexOf('\t');
    const tag = tab < 0 ? line : line.slice(0, tab);
    const rest = tab < 0 ? '' : line.slice(tab + 1);
    if (tag === 'F') {
      cur = { path: rest, pemBlocks: [], damagedBlocks: 0, kubeconfigLines: [], hasPrivateKey: false, unreadable: false };
      block = undefined;
      continue;
    }
    if (tag === 'D') {
      done = Number(rest);
      continue;
    }
    if (tag === 'P' || tag === 'A' || tag === 'M') {
      (tag === 'P' ? extras.present : tag === 'A' ? extras.absent : extras.missing).push(rest);
      continue;
    }
    if (opts.extra?.(tag, rest)) continue;
    if (!cur) return { ok: false, problem: `scan output line ${n + 1}: record before any file`, files };
    switch (tag) {
      case 'C': {
        const t = rest.trim();
        if (t === '-----BEGIN CERTIFICATE-----') {
          endBlock(true);
          block = [t];
        } else if (t === '-----TRUNCATED-----') {
          endBlock(true);
        } else if (t === '-----END CERTIFICATE-----') {
          block?.push(t);
          endBlock(false);
        } else if (block && t) block.push(t);
        break;
      }
      case 'Y':
        cur.kubeconfigLines.push(rest);
        break;
      case 'L':
        cur.linkTarget = rest;
        break;
      case 'B':
        cur.danglingTo = rest;
        break;
      case 'X':
        cur.unreadable = true;
        break;
      case 'E':
        endBlock(true);
        cur.hasPrivateKey = rest === 'private-key';
        files.push(cur);
        cur = undefined;
        break;
      default:
        return { ok: false, problem: `scan output line ${n + 1}: unknown record ${JSON.stringify(tag.slice(0, 20))}`, files };
    }
  }
  if (done === undefined) return { ok: false, problem: 'the scan output ended early (no end marker): the connection or the command was cut', files };
  if (done !== files.length) return { ok: false, problem: `the scan reported ${done} files but ${files.length} arrived`, files };
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { ok: true, files, ...extras };
}
