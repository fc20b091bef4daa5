// The plain log of `run` and `rollback` when stdout is not a terminal: one line per engine event, each naming the time,
// the step and the host, so that any line of a CI log, a `| tee` file or a cron mail can be read alone.
import type { EngineEvent } from './engine.js';

export interface LineLogOptions {
  /** Where each finished line goes (without its newline). */
  write: (line: string) => void;
  /** The clock; tests pass a fixed one. */
  now?: () => Date;
  /** Local time (default) or UTC in the HH:MM:SS stamp. */
  utc?: boolean;
}

/** "10:40:31" */
export function clock(d: Date, utc = false): string {
  const [h, m, s] = utc ? [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()] : [d.getHours(), d.getMinutes(), d.getSeconds()];
  return [h, m, s].map((n) => String(n).padStart(2, '0')).join(':');
}

/** "tos-2: " at the start of a message whose host is tos-2 is said once, by the line's own host field. */
function withoutHost(message: string, host: string | undefined): string {
  if (host && message.startsWith(`${host}: `)) return message.slice(host.length + 2);
  return message;
}

/** `subject: text`, or `host (leader): text` when the message starts with its host and a note about it. */
function subjectAndText(host: string | undefined, title: string | undefined, message: string): string {
  if (host && message.startsWith(`${host} (`)) return message;
  const subject = host ?? title;
  const text = withoutHost(message, host);
  return subject ? `${subject}: ${text}` : text;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/**
 * A subscriber for EngineOptions.onEvent. Lines:
 *   10:40:31 2. backup: started
 *   10:40:31 2. backup tos-2: 7 files copied and verified by sha256
 *   10:40:32 2. backup: done in 1.2s
 *   10:41:02 6. rolling-restart tos-2: FAILED: etcd on tos-2 is not healthy after 60s
 * A bare "ok" says nothing the item's end does not: an item that said nothing else gets one "done" line at its end.
 * A failure is one line (its first); the full message and what to do next are the command's final error.
 */
export function createLineLog(opts: LineLogOptions): (e: EngineEvent) => void {
  const now = opts.now ?? (() => new Date());
  const started = new Map<string, number>();
  const spoke = new Set<string>();
  // An item is known by its step and title: rolling-restart's items get their host from their messages only.
  const itemKey = (e: EngineEvent) => `${e.step ?? ''}\0${e.title ?? e.host ?? ''}`;
  return (e) => {
    const t = now();
    const step = e.step ?? '';
    const line = (rest: string) => opts.write(`${clock(t, opts.utc)} ${step}${rest}`);
    switch (e.event) {
      case 'step-start':
        started.set(step, t.getTime());
        line(': started');
        return;
      case 'step-end': {
        const t0 = started.get(step);
        line(t0 === undefined ? ': done' : `: done in ${seconds(t.getTime() - t0)}`);
        return;
      }
      case 'item-start':
        return;
      case 'message': {
        const m = (e.message ?? '').split('\n')[0]!.trim();
        if (!m || m === 'ok') return;
        spoke.add(itemKey(e));
        line(` ${subjectAndText(e.host, e.title, m)}`);
        return;
      }
      case 'item-end':
        if (!spoke.delete(itemKey(e))) line(` ${e.host ?? e.title ?? ''}: done`.replace(/^ : /, ': '));
        return;
      case 'item-failed': {
        spoke.delete(itemKey(e));
        const m = (e.message ?? 'failed').split('\n')[0]!.trim();
        line(` ${e.host ?? e.title ?? ''}: FAILED: ${withoutHost(m, e.host)}`.replace(/^ : /, ': '));
        return;
      }
    }
  };
}
