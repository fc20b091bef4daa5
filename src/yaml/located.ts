// Parses YAML text into plain values plus the line/column of every path, reporting syntax errors and duplicate keys as InputIssues.
import {
  constructFromEvents,
  EVENT_ID,
  getScalarValue,
  parseEvents,
  SCALAR_STYLE,
  YAMLException,
  type Event,
  type ScalarEvent,
} from 'js-yaml';
import type { InputIssue } from '../errors.js';

/** A path into a YAML document: mapping keys and sequence indexes, e.g. `['hosts', 'tos-2', 'port']`. */
export type YamlPath = ReadonlyArray<string | number>;

/** A 1-based position in the source text. */
export interface Position {
  line: number;
  column: number;
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** `hosts.tos-2.port`, `groups.master[1]`; keys with other characters are quoted: `hosts["a.example.com"].address`. */
export function formatPath(path: YamlPath): string {
  let out = '';
  for (const raw of path) {
    if (typeof raw === 'number') {
      out += `[${raw}]`;
      continue;
    }
    const part = raw.length > 80 ? `${raw.slice(0, 80)}…` : raw; // keys are echoed at a sane length too
    if (PLAIN_KEY.test(raw)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

function pathKey(path: YamlPath): string {
  return JSON.stringify(path);
}

/** Converts offsets into 1-based line/column. */
class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  position(offset: number): Position {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.starts[lo]! + 1 };
  }
}

/** A parsed YAML document: its value and where each path sits in the file. */
export class LocatedYaml {
  constructor(
    /** The file name used in messages (as the user gave it). */
    readonly file: string,
    /** The document's value: plain objects, arrays, strings, numbers, booleans, null. */
    readonly value: unknown,
    private readonly valuePositions: Map<string, Position>,
    private readonly keyPositions: Map<string, Position>,
  ) {}

  /** Where the value at `path` starts; falls back to the nearest ancestor that has a position (aliases, empty values). */
  at(path: YamlPath): Position | undefined {
    for (let n = path.length; n >= 0; n--) {
      const sub = path.slice(0, n);
      const p = this.valuePositions.get(pathKey(sub)) ?? this.keyPositions.get(pathKey(sub));
      if (p) return p;
    }
    return undefined;
  }

  /** Where the key of the mapping entry at `path` is written; falls back to `at(path)`. */
  keyAt(path: YamlPath): Position | undefined {
    return this.keyPositions.get(pathKey(path)) ?? this.at(path);
  }

  /** An InputIssue located at the value (or, with `onKey`, the key) of `path`. */
  issue(path: YamlPath, message: string, onKey = false): InputIssue {
    // A document with no node at all (empty, only comments) still has a first line: point there.
    const pos = (onKey ? this.keyAt(path) : this.at(path)) ?? { line: 1, column: 1 };
    return { file: this.file, line: pos?.line, column: pos?.column, path: formatPath(path), message };
  }
}

export interface ParseResult {
  /** Absent when the text is not valid YAML. */
  doc?: LocatedYaml;
  /** Syntax errors, duplicate keys, more than one document. */
  issues: InputIssue[];
}

/** Turns a js-yaml exception into an InputIssue with its 1-based line and column. */
export function yamlExceptionToIssue(e: YAMLException, file: string): InputIssue {
  const mark = e.mark;
  return {
    file,
    line: mark ? mark.line + 1 : undefined,
    column: mark ? mark.column + 1 : undefined,
    path: '',
    message: `YAML syntax error: ${e.reason}`,
  };
}

/**
 * Parses one YAML document (core schema, no merge keys) and records positions.
 * Duplicate keys are reported with both lines (all of them, not just the first); the later value wins in `doc.value`.
 */
export function parseYaml(text: string, file: string): ParseResult {
  let events: Event[];
  try {
    events = parseEvents(text, { filename: file });
  } catch (e) {
    if (e instanceof YAMLException) return { issues: [yamlExceptionToIssue(e, file)] };
    throw e;
  }
  const lines = new LineIndex(text);
  const valuePositions = new Map<string, Position>();
  const keyPositions = new Map<string, Position>();
  const issues: InputIssue[] = [];
  let documents = 0;
  let i = 0;

  const scalarStart = (ev: ScalarEvent): number => {
    if (ev.valueStart < 0) return -1;
    const quoted = ev.style === SCALAR_STYLE.SINGLE_QUOTED || ev.style === SCALAR_STYLE.DOUBLE_QUOTED;
    return quoted ? ev.valueStart - 1 : ev.valueStart;
  };
  const startOf = (ev: Event): number => {
    switch (ev.type) {
      case EVENT_ID.SCALAR:
        return scalarStart(ev);
      case EVENT_ID.MAPPING:
      case EVENT_ID.SEQUENCE:
        return ev.start;
      case EVENT_ID.ALIAS:
        return ev.anchorStart - 1;
      default:
        return -1;
    }
  };

  // Walks one node starting at events[i]; records its position under `path` (or `fallback` when it has none).
  const walk = (path: YamlPath | undefined, fallback: number): void => {
    const ev = events[i++]!;
    const start = startOf(ev);
    const offset = start >= 0 ? start : fallback;
    if (path && offset >= 0) valuePositions.set(pathKey(path), lines.position(offset));
    if (ev.type === EVENT_ID.SEQUENCE) {
      let index = 0;
      while (events[i]!.type !== EVENT_ID.POP) walk(path ? [...path, index++] : undefined, offset);
      i++;
    } else if (ev.type === EVENT_ID.MAPPING) {
      const seen = new Map<string, number>();
      while (events[i]!.type !== EVENT_ID.POP) {
        const keyEv = events[i]!;
        let key: string | undefined;
        let keyOffset = startOf(keyEv);
        if (keyOffset < 0) keyOffset = offset;
        if (keyEv.type === EVENT_ID.SCALAR) {
          key = getScalarValue(text, keyEv);
          i++;
        } else {
          walk(undefined, keyOffset); // complex or aliased key: js-yaml reports it when constructing
        }
        const childPath = path && key !== undefined ? [...path, key] : undefined;
        if (childPath) {
          const firstOffset = seen.get(key!);
          if (firstOffset !== undefined) {
            const first = lines.position(firstOffset);
            const here = lines.position(keyOffset);
            issues.push({
              file,
              line: here.line,
              column: here.column,
              path: formatPath(childPath),
              message: `duplicate key "${key}": already defined at line ${first.line}; keep only one`,
            });
          } else {
            seen.set(key!, keyOffset);
          }
          // The later of two duplicates is the one that ends up in the value, so positions follow it.
          keyPositions.set(pathKey(childPath), lines.position(keyOffset));
        }
        walk(childPath, keyOffset);
      }
      i++;
    }
  };

  while (i < events.length) {
    const ev = events[i]!;
    if (ev.type !== EVENT_ID.DOCUMENT) {
      i++;
      continue;
    }
    i++;
    documents++;
    const first = events[i];
    if (documents === 2) {
      const at = first && first.type !== EVENT_ID.POP ? startOf(first) : -1;
      const pos = at >= 0 ? lines.position(at) : undefined;
      issues.push({
        file,
        line: pos?.line,
        column: pos?.column,
        path: '',
        message: 'expected a single YAML document, found a second one (remove the extra `---`)',
      });
    }
    if (first && first.type !== EVENT_ID.POP) walk(documents === 1 ? [] : undefined, 0);
    i++; // the document's POP
  }

  // Aliases (*name) are refused: nothing in an inventory or playbook needs them, and nested ones expand exponentially
  // (a few lines can stand for millions of nodes).
  const alias = events.find((ev) => ev.type === EVENT_ID.ALIAS);
  if (alias) {
    const pos = lines.position(Math.max(0, startOf(alias)));
    return { issues: [...issues, { file, line: pos.line, column: pos.column, path: '', message: 'YAML aliases (*name) are not supported here: write the value out' }] };
  }

  let values: unknown[];
  try {
    values = constructFromEvents(events, { source: text, filename: file, json: true });
  } catch (e) {
    if (e instanceof YAMLException) return { issues: [...issues, yamlExceptionToIssue(e, file)] };
    throw e;
  }
  const value = values.length > 0 ? values[0] : null;
  return { doc: new LocatedYaml(file, value, valuePositions, keyPositions), issues };
}
