// The restart's wait loops run by a local sh against files standing in for docker ps, etcdctl and the apiserver check,
// and the parsers and judgement of what they print.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerTokens, containersGone, healthWaitScript, judgeHealth, parseHealthWait, parseStopWait, stopWaitScript } from '../../../src/steps/restart-waits.js';
import { ContainerWatch } from '../../../src/steps/rolling-restart.js';
import { quote } from '../../../src/ssh/quote.js';

const NAMES = ['tos-etcd', 'tos-apiserver'];
const ps = (...rows: Array<[string, number]>) =>
  ['CONTAINER ID   IMAGE   COMMAND   CREATED   STATUS   PORTS   NAMES', ...rows.map(([n, c]) => `0123456789ab   img   "x"   1 second ago   Up 1 second      k8s_${n}_${n}-host_kube-system_abcd_${c}`)].join('\n') + '\n';
const OWN = 'https://127.0.0.1:4001';
const healthy = `[{"endpoint":"${OWN}","health":true,"took":"2ms"}]`;
const unhealthy = `[{"endpoint":"${OWN}","health":false,"took":"2s","error":"context deadline exceeded"}]`;
const status = (mine: number, leader: number) =>
  `[{"Endpoint":"${OWN}","Status":{"header":{"member_id":1111111111111111111},"leader":2222222222222222222,"raftIndex":${mine}}},{"Endpoint":"https://127.0.0.2:4001","Status":{"header":{"member_id":2222222222222222222},"leader":2222222222222222222,"raftIndex":${leader}}}]`;

/** Run a script with a local sh; `steps` change the stand-in files at given times. */
async function runSh(script: string, steps: Array<[number, () => void]> = []): Promise<{ stdout: string; ms: number }> {
  const t0 = Date.now();
  const timers = steps.map(([at, f]) => setTimeout(f, at));
  const stdout = await new Promise<string>((resolve, reject) => execFile('sh', ['-c', script], { timeout: 20_000 }, (e, out) => (e ? reject(e) : resolve(out))));
  timers.forEach(clearTimeout);
  return { stdout, ms: Date.now() - t0 };
}

function standIns() {
  const d = mkdtempSync(join(tmpdir(), 'certroll-waits-'));
  const f = (n: string) => join(d, n);
  const put = (n: string, v: string) => writeFileSync(f(n), v);
  return { d, f, put, cat: (n: string) => `cat ${quote(f(n))}`, done: () => rmSync(d, { recursive: true, force: true }) };
}

describe('the pace of the looks (a fake clock: no wall time measured)', () => {
  // `date` and `sleep` are shell functions over a clock file; each look (the listing, or the health probe) costs 80 ms of
  // that clock and the fourth look sees the end. A look every 100 ms means sleeping the 20 ms left, not 100 ms more.
  const clocked = (d: string, script: string) =>
    [`date() { echo $(( $(cat ${quote(`${d}/t`)}) * 1000000 )); }`, `sleep() { echo "$1" >> ${quote(`${d}/slept`)}; }`, script].join('\n');
  /** A stand-in command: advances the clock 80 ms, prints `before` for the first three looks and `after` from then on. */
  const slowLook = (s: ReturnType<typeof standIns>, before: string, after: string) => {
    s.put('t', '1000000\n');
    s.put('n', '0\n');
    s.put('before', before);
    s.put('after', after);
    s.put('look.sh', `cd ${quote(s.d)} && t=$(cat t) && echo $(( t + 80 )) > t && n=$(( $(cat n) + 1 )) && echo $n > n && if [ $n -ge 4 ]; then cat after; else cat before; fi\n`);
    return `sh ${quote(s.f('look.sh'))}`;
  };
  const slept = (s: ReturnType<typeof standIns>) => readFileSync(s.f('slept'), 'utf8');

  it('stop wait: sleeps what is left of 100 ms after each look', async () => {
    const s = standIns();
    try {
      const { stdout } = await runSh(clocked(s.d, stopWaitScript(slowLook(s, ps(['tos-etcd', 0]), ''), ['tos-etcd'], 30)));
      expect(parseStopWait(stdout)).toMatchObject({ why: 'gone', ms: 320 });
      expect(slept(s)).toBe('0.020\n0.020\n0.020\n');
    } finally {
      s.done();
    }
  });

  it('health wait: the same pace, the probe counting in the look', async () => {
    const s = standIns();
    try {
      s.put('ps', ps(['tos-etcd', 0]));
      const script = healthWaitScript({ names: ['tos-etcd'], seen: ['tos-etcd_0'], check: s.cat('ps'), ownHealth: slowLook(s, unhealthy, healthy), status: 'true', api: 'true', timeoutSeconds: 30, exitGraceMs: 5000 });
      const { stdout } = await runSh(clocked(s.d, script));
      expect(parseHealthWait(stdout, ['tos-etcd']).why).toBe('healthy');
      expect(slept(s)).toBe('0.020\n0.020\n0.020\n');
    } finally {
      s.done();
    }
  });
});

describe('stop wait on the host', () => {
  it('ends within a look (100 ms) of the containers leaving the listing, and prints the last listing', async () => {
    const s = standIns();
    try {
      s.put('ps', ps(['tos-etcd', 0], ['tos-apiserver', 0]));
      const r = await runSh(stopWaitScript(s.cat('ps'), NAMES, 10), [[600, () => s.put('ps', ps())]]);
      const res = parseStopWait(r.stdout);
      expect(res.why).toBe('gone');
      expect(containersGone(res.listing, NAMES)).toBe(true);
      expect(r.ms).toBeGreaterThanOrEqual(600);
      expect(r.ms).toBeLessThan(1500);
    } finally {
      s.done();
    }
  });
  it('gives up after the timeout with the containers still listed', async () => {
    const s = standIns();
    try {
      s.put('ps', ps(['tos-apiserver', 0]));
      const r = await runSh(stopWaitScript(s.cat('ps'), NAMES, 0.5));
      const res = parseStopWait(r.stdout);
      expect(res.why).toBe('timeout');
      expect(containersGone(res.listing, NAMES)).toBe(false);
      expect(res.listing).toContain('k8s_tos-apiserver');
    } finally {
      s.done();
    }
  });
  it('an empty or foreign answer is not "gone"', () => {
    expect(parseStopWait('').why).toBe('unknown');
    expect(parseStopWait('garbage\n').why).toBe('unknown');
  });
});

describe('health wait on the host', () => {
  const input = (s: ReturnType<typeof standIns>, over: Partial<Parameters<typeof healthWaitScript>[0]> = {}) => ({
    ownHealth: s.cat('health'),
    status: s.cat('status'),
    api: `test -e ${quote(s.f('api-ok'))}`,
    check: s.cat('ps'),
    names: NAMES,
    timeoutSeconds: 10,
    seen: [undefined, undefined],
    exitGraceMs: 5000,
    ...over,
  });

  it('ends when the member is healthy and the apiserver answers; prints each container change and the last probe', async () => {
    const s = standIns();
    try {
      s.put('ps', ps());
      s.put('health', unhealthy);
      s.put('status', status(10, 10));
      const r = await runSh(healthWaitScript(input(s)), [
        [300, () => s.put('ps', ps(['tos-etcd', 0]))],
        [600, () => (s.put('health', healthy), s.put('ps', ps(['tos-etcd', 0], ['tos-apiserver', 0])))],
        [900, () => s.put('api-ok', '')],
      ]);
      const res = parseHealthWait(r.stdout, NAMES);
      expect(res.why).toBe('healthy');
      expect(res.ps.map((p) => p.tokens)).toEqual([[undefined, undefined], ['tos-etcd_0', undefined], ['tos-etcd_0', 'tos-apiserver_0']]);
      expect(res.ps[0]!.healthy).toBe(false);
      expect(res.exitMs).toBeUndefined();
      expect(judgeHealth(res, OWN, 50)).toEqual({ ok: true, healthy: true, last: 'healthy' });
      expect(r.ms).toBeGreaterThanOrEqual(900);
      expect(r.ms).toBeLessThan(2000);
    } finally {
      s.done();
    }
  });

  it('a container that started and is gone again while the member stays unhealthy: ends after the grace; the watch names the exit', async () => {
    const s = standIns();
    try {
      s.put('ps', ps(['tos-etcd', 0]));
      s.put('health', unhealthy);
      s.put('status', status(10, 10));
      const r = await runSh(healthWaitScript(input(s, { exitGraceMs: 400 })), [[300, () => s.put('ps', ps())]]);
      const res = parseHealthWait(r.stdout, NAMES);
      expect(res.why).toBe('exited');
      expect(res.exitMs).toBeGreaterThanOrEqual(250);
      const w = new ContainerWatch(NAMES);
      const exits = res.ps.map((p) => w.observeTokens(p.tokens)).filter(Boolean);
      expect(exits).toEqual(['tos-etcd started and exited again']);
      expect(judgeHealth(res, OWN, 50)).toMatchObject({ ok: false, healthy: false, last: 'etcd member not healthy: context deadline exceeded' });
      expect(r.ms).toBeLessThan(2000);
    } finally {
      s.done();
    }
  });

  it('a restart count rising counts as an exit; a container seen by an earlier loop and now gone too', async () => {
    const s = standIns();
    try {
      s.put('ps', ps(['tos-etcd', 1]));
      s.put('health', unhealthy);
      // Seen with restart count 0 by the TS side before this loop: the count rose.
      const r = await runSh(healthWaitScript(input(s, { exitGraceMs: 200, seen: ['tos-etcd_0', undefined] })));
      const res = parseHealthWait(r.stdout, NAMES);
      expect(res.why).toBe('exited');
      const w = new ContainerWatch(NAMES);
      w.observeTokens(['tos-etcd_0', undefined]);
      expect(w.observeTokens(res.ps[0]!.tokens)).toBe('tos-etcd was restarted by the kubelet (restart count 0 → 1)');
      // An exit seen long enough ago by an earlier loop ends this one at its first look.
      s.put('ps', ps());
      const again = parseHealthWait((await runSh(healthWaitScript(input(s, { exitGraceMs: 5000, exitAgoMs: 6000, seen: ['tos-etcd_1', undefined] })))).stdout, NAMES);
      expect(again.why).toBe('exited');
      expect(again.exitMs).toBeLessThanOrEqual(-5000);
    } finally {
      s.done();
    }
  });

  it('an apiserver check that does not pass keeps waiting until the timeout; the verdict says why', async () => {
    const s = standIns();
    try {
      s.put('ps', ps(['tos-etcd', 0], ['tos-apiserver', 0]));
      s.put('health', healthy);
      s.put('status', status(10, 10));
      const r = await runSh(healthWaitScript(input(s, { timeoutSeconds: 0.4 })));
      const res = parseHealthWait(r.stdout, NAMES);
      expect(res.why).toBe('timeout');
      expect(judgeHealth(res, OWN, 50)).toEqual({ ok: false, healthy: true, last: 'apiserver check not passing' });
    } finally {
      s.done();
    }
  });
});

describe('judging a probe', () => {
  it('raft lag above the limit, no leader, unreadable output', () => {
    expect(judgeHealth({ health: healthy, status: status(10, 100), apiOk: true }, OWN, 50).last).toBe('raft index 90 behind the leader');
    expect(judgeHealth({ health: healthy, status: status(10, 60), apiOk: true }, OWN, 50).ok).toBe(true);
    expect(judgeHealth({ health: healthy, status: '', apiOk: true }, OWN, 50).last).toBe('no leader visible from this node');
    expect(judgeHealth({ health: '[{', status: '', apiOk: true }, OWN, 50).last).toBe('etcdctl output unreadable');
    expect(judgeHealth({ health: '', status: '', apiOk: true }, OWN, 50)).toMatchObject({ ok: false, healthy: false });
  });
  it('container tokens read as the watch reads them', () => {
    expect(containerTokens(ps(['tos-etcd', 3]), NAMES)).toEqual(['tos-etcd_3', undefined]);
    expect(containerTokens('abc tos-apiserver Up\n', NAMES)).toEqual([undefined, 'tos-apiserver']);
  });
  it('parses a recorded loop output', () => {
    const out = `@@ps 0 0 - -\n@@ps 412 0 tos-etcd_0 -\n@@ps 903 1 tos-etcd_0 tos-apiserver_0\n@@end 1204 healthy -1\n@@health\n${healthy}\n@@status\n${status(5, 5)}\n@@api 0\n`;
    const res = parseHealthWait(out, NAMES);
    expect(res).toMatchObject({ ms: 1204, why: 'healthy', apiOk: true, health: healthy, status: status(5, 5) });
    expect(res.ps).toEqual([
      { ms: 0, healthy: false, tokens: [undefined, undefined] },
      { ms: 412, healthy: false, tokens: ['tos-etcd_0', undefined] },
      { ms: 903, healthy: true, tokens: ['tos-etcd_0', 'tos-apiserver_0'] },
    ]);
    expect(parseHealthWait('', NAMES).why).toBe('unknown');
  });
});
