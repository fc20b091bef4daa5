// How a command writes: terminal or not, colours only on a TTY (and never with NO_COLOR), --json; the progress view of run and rollback.
import type { EngineEvent } from '../apply/engine.js';
import { createLineLog } from '../apply/line-log.js';

export interface OutputMode {
  /** stdout is a terminal: listr2's live renderer, colours. */
  tty: boolean;
  color: boolean;
  /** --json: data on stdout, nothing else there. */
  json: boolean;
}

export function detectOutputMode(opts: { json?: boolean; color?: boolean }): OutputMode {
  const tty = Boolean(process.stdout.isTTY);
  const envNoColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
  const color = opts.color ?? (tty && !envNoColor && !opts.json);
  return { tty, color, json: Boolean(opts.json) };
}

/**
 * How `run` and `rollback` show progress: listr2's live view on a terminal; otherwise listr2 stays silent and every engine
 * event becomes one plain line naming time, step and host (src/apply/line-log.ts); with --json, nothing on stdout.
 */
export function progressView(mode: OutputMode, say: (line: string) => void): { renderer: 'default' | 'silent'; onEvent?: (e: EngineEvent) => void } {
  if (mode.json) return { renderer: 'silent' };
  if (mode.tty) return { renderer: 'default' };
  return { renderer: 'silent', onEvent: createLineLog({ write: say }) };
}
