// An etcd availability probe for bench/run (the same as test/support/etcd-writer.ts): puts a key every interval through
// etcd's v3 JSON gateway over a fresh TLS connection each time, failing over across endpoints like an etcd client; counts
// attempts and failures and the longest gap between acknowledged writes.
import { request } from 'node:https';

function put(endpoint, o, key) {
  const body = JSON.stringify({ key: Buffer.from(key).toString('base64'), value: Buffer.from('v').toString('base64') });
  const u = new URL('/v3/kv/put', endpoint);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', ca: o.ca, cert: o.cert, key: o.key, agent: false, timeout: 1000, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => (res.statusCode === 200 && text.includes('header') ? resolve() : reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 100)}`))));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Start writing; stop() resolves with { attempts, failures, longestGapMs, errors }. */
export function startProbe(o) {
  const stats = { attempts: 0, failures: 0, longestGapMs: 0, errors: [] };
  let running = true;
  let lastOk = Date.now();
  let n = 0;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      const key = `${o.prefix}/${String(n++).padStart(6, '0')}`;
      stats.attempts++;
      let ok = false;
      for (let i = 0; i < o.endpoints.length && !ok; i++) {
        const ep = o.endpoints[(n + i) % o.endpoints.length];
        try {
          await put(ep, o, key);
          ok = true;
        } catch (e) {
          if (stats.errors.length < 20) stats.errors.push(`${new Date().toISOString()} ${ep}: ${e.message}`);
        }
      }
      const now = Date.now();
      if (ok) {
        stats.longestGapMs = Math.max(stats.longestGapMs, now - lastOk);
        lastOk = now;
      } else stats.failures++;
      await new Promise((r) => setTimeout(r, Math.max(0, o.intervalMs - (Date.now() - started))));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      stats.longestGapMs = Math.max(stats.longestGapMs, Date.now() - lastOk);
      return stats;
    },
  };
}
