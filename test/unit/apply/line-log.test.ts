// The plain log for pipes and CI: every line names time, step and host; no bare "ok", a failure once.
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../../src/apply/engine.js';
import { clock, createLineLog } from '../../../src/apply/line-log.js';
import { hostInMessage } from '../../../src/apply/message-host.js';

function logOf(events: Array<EngineEvent & { at?: number }>): string[] {
  const lines: string[] = [];
  let t = Date.UTC(2026, 11, 2, 10, 40, 30);
  const log = createLineLog({ write: (l) => lines.push(l), now: () => new Date(t), utc: true });
  for (const { at, ...e } of events) {
    if (at) t += at;
    log(e);
  }
  return lines;
}

const HOSTS = ['tos-1', 'tos-2', 'tos-3', 'tos-10'];

describe('createLineLog', () => {
  it('prints one line per event with time, step and host, and the step duration at its end', () => {
    const s = '2. backup';
    expect(
      logOf([
        { event: 'step-start', step: s },
        { event: 'item-start', step: s, host: 'tos-2', title: 'tos-2: /srv/k → /srv/k-bak' },
        { event: 'message', step: s, host: 'tos-2', title: 'tos-2: /srv/k → /srv/k-bak', message: '7 files copied and verified by sha256', at: 1000 },
        { event: 'item-end', step: s, host: 'tos-2', title: 'tos-2: /srv/k → /srv/k-bak' },
        { event: 'step-end', step: s, at: 200 },
      ]),
    ).toEqual([
      '10:40:30 2. backup: started',
      '10:40:31 2. backup tos-2: 7 files copied and verified by sha256',
      '10:40:31 2. backup: done in 1.2s',
    ]);
  });

  it('drops bare "ok" messages; an item that said nothing else gets one "done" line', () => {
    const s = '1. preflight';
    const lines = logOf([
      { event: 'item-start', step: s, host: 'tos-1', title: 'tos-1' },
      { event: 'message', step: s, host: 'tos-1', title: 'tos-1', message: 'lock taken' },
      { event: 'message', step: s, host: 'tos-1', title: 'tos-1', message: 'ok' },
      { event: 'item-end', step: s, host: 'tos-1', title: 'tos-1' },
      { event: 'item-start', step: s, host: 'tos-2', title: 'tos-2' },
      { event: 'message', step: s, host: 'tos-2', title: 'tos-2', message: 'ok' },
      { event: 'item-end', step: s, host: 'tos-2', title: 'tos-2' },
    ]);
    expect(lines).toEqual(['10:40:30 1. preflight tos-1: lock taken', '10:40:30 1. preflight tos-2: done']);
    expect(lines.join('\n')).not.toMatch(/: ok$/m);
  });

  it('names a host once when the message starts with it, and keeps a note such as (leader)', () => {
    const s = '6. rolling-restart';
    const t = 'node 3/3';
    expect(
      logOf([
        { event: 'item-start', step: s, title: t },
        { event: 'message', step: s, host: 'tos-2', title: t, message: 'tos-2 (leader): checking cluster health and quorum' },
        { event: 'message', step: s, host: 'tos-2', title: t, message: 'tos-2: stopped; pausing 1s' },
        { event: 'item-end', step: s, host: 'tos-2', title: t },
      ]),
    ).toEqual(['10:40:30 6. rolling-restart tos-2 (leader): checking cluster health and quorum', '10:40:30 6. rolling-restart tos-2: stopped; pausing 1s']);
  });

  it('uses the item title when an item has no host', () => {
    expect(logOf([{ event: 'message', step: '8. verify', title: 'etcd cluster healthy', message: 'all members healthy, one leader' }])).toEqual([
      '10:40:30 8. verify etcd cluster healthy: all members healthy, one leader',
    ]);
  });

  it("prints a failed node's message once, on one line, with its host said once", () => {
    const s = '6. rolling-restart';
    const lines = logOf([
      { event: 'step-start', step: s },
      { event: 'item-start', step: s, title: 'node 1/3' },
      { event: 'message', step: s, host: 'tos-2', title: 'node 1/3', message: 'tos-2: manifests back; waiting until healthy' },
      { event: 'item-failed', step: s, host: 'tos-2', title: 'node 1/3', message: 'tos-2: etcd not healthy after 60s\nstderr tail\n  → restore it', at: 60_000 },
    ]);
    expect(lines).toEqual([
      '10:40:30 6. rolling-restart: started',
      '10:40:30 6. rolling-restart tos-2: manifests back; waiting until healthy',
      '10:41:30 6. rolling-restart tos-2: FAILED: etcd not healthy after 60s',
    ]);
    expect(lines.filter((l) => l.includes('not healthy after'))).toHaveLength(1);
  });

  it('never writes a line without a step and time, whatever the order of concurrent events', () => {
    const s = '5. distribute';
    const ev = (host: string, event: EngineEvent['event'], message?: string): EngineEvent => ({ event, step: s, host, title: `${host}: stage and verify`, ...(message ? { message } : {}) });
    const lines = logOf([ev('tos-1', 'item-start'), ev('tos-2', 'item-start'), ev('tos-2', 'message', 'staged etcd.pem (sha256 verified)'), ev('tos-1', 'message', 'staged etcd.pem (sha256 verified)'), ev('tos-2', 'item-end'), ev('tos-1', 'item-end')]);
    expect(lines).toEqual(['10:40:30 5. distribute tos-2: staged etcd.pem (sha256 verified)', '10:40:30 5. distribute tos-1: staged etcd.pem (sha256 verified)']);
  });
});

describe('hostInMessage', () => {
  it('finds the host a message starts with, the longest name winning', () => {
    expect(hostInMessage('tos-2 (leader): checking', HOSTS)).toBe('tos-2');
    expect(hostInMessage('tos-10: stopped', HOSTS)).toBe('tos-10');
    expect(hostInMessage('tos-1: stopped', HOSTS)).toBe('tos-1');
  });
  it('finds nothing in a message that does not start with a host and a colon or a note', () => {
    expect(hostInMessage('tos-1x: stopped', HOSTS)).toBeUndefined();
    expect(hostInMessage('all members healthy', HOSTS)).toBeUndefined();
    expect(hostInMessage(undefined, HOSTS)).toBeUndefined();
  });
});

describe('clock', () => {
  it('is HH:MM:SS', () => expect(clock(new Date(Date.UTC(2026, 0, 1, 3, 4, 5)), true)).toBe('03:04:05'));
});
