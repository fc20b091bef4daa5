// The etcd facts script run by a local sh with an etcdctl stand-in: the three queries run at the same time, their outputs
// come back in the fixed order between the markers, whatever order they finish in and however large they are.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdFactsScript, splitEtcdFactsOutput } from '../../../src/facts/etcd-facts.js';

const run = (script: string) =>
  new Promise<{ stdout: string; ms: number }>((resolve, reject) => {
    const t0 = Date.now();
    execFile('sh', ['-c', script], { timeout: 20_000, maxBuffer: 1 << 24 }, (e, stdout) => (e ? reject(e) : resolve({ stdout, ms: Date.now() - t0 })));
  });

describe('etcd facts script', () => {
  it('runs member list, status and health at the same time and prints them in order between the markers', async () => {
    const d = mkdtempSync(join(tmpdir(), 'certroll-etcdctl-'));
    try {
      const big = 'x'.repeat(200_000);
      // Each answer takes 600 ms; health finishes first, member list last; status is larger than a pipe holds; member
      // list's noise on stderr and non-JSON lines are dropped as before.
      const stub = join(d, 'etcdctl');
      writeFileSync(stub, `#!/bin/sh
case "$*" in
  *"member list"*) sleep 0.6; echo 'warning: noise' >&2; echo '{"members":[]}';;
  *"endpoint status"*) sleep 0.5; echo '[{"Endpoint":"a","big":"${big}"}]';;
  *"endpoint health"*) sleep 0.4; echo '[{"endpoint":"a","health":true}]'; echo 'stderr noise' >&2;;
esac
`);
      chmodSync(stub, 0o755);
      const r = await run(etcdFactsScript(stub, 'https://10.0.0.1:2379'));
      expect(r.ms).toBeLessThan(1400); // one after the other: 1.5 s at least
      const out = splitEtcdFactsOutput(r.stdout);
      expect(out.members).toBe('{"members":[]}');
      expect(out.status).toBe(`[{"Endpoint":"a","big":"${big}"}]`);
      expect(out.health).toBe('[{"endpoint":"a","health":true}]');
      expect(r.stdout.trimEnd().endsWith('@@end')).toBe(true);
      // A failing etcdctl (member down, no answer): empty sections, markers still there, exit 0.
      const none = splitEtcdFactsOutput((await run(etcdFactsScript('false', 'https://10.0.0.1:2379'))).stdout);
      expect(none).toEqual({ members: '', status: '', health: '' });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
