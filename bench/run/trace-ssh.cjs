// Preloaded into `certroll run` by `bench/run/run.mjs --trace` (node --require): records every SSH round trip (exec
// channel, SFTP open and request) with its time, host and first words, to the file named by CERTROLL_BENCH_TRACE.
// Measurement only: it wraps ssh2's prototypes and changes nothing they do.
'use strict';
const { writeFileSync } = require('node:fs');
const out = process.env.CERTROLL_BENCH_TRACE;
if (out) {
  const ssh2 = require('ssh2');
  const { SFTP } = require('ssh2/lib/protocol/SFTP.js');
  const rows = [];
  const t0 = Date.now();
  const hostOf = (c) => (c && c.config ? `${c.config.host}` : '?');
  const wrap = (proto, name, kind, describe) => {
    const orig = proto[name];
    if (typeof orig !== 'function') return;
    proto[name] = function (...args) {
      const start = Date.now();
      const row = { at: start, kind, host: kind === 'exec' || kind === 'sftp-open' ? hostOf(this) : hostOf(this._client), what: describe(args), ms: -1 };
      rows.push(row);
      const cb = args.findIndex((a) => typeof a === 'function');
      if (cb >= 0) {
        const f = args[cb];
        args[cb] = function (...r) {
          row.ms = Date.now() - start;
          return f.apply(this, r);
        };
      }
      return orig.apply(this, args);
    };
  };
  wrap(ssh2.Client.prototype, 'exec', 'exec', (a) => String(a[0]).replace(/\s+/g, ' ').slice(0, 160));
  // fsetstat is left out: ssh2's fchown and fchmod call it (one request, not two).
  wrap(ssh2.Client.prototype, 'sftp', 'sftp-open', () => 'sftp');
  for (const m of ['open', 'close', 'read', 'write', 'fstat', 'stat', 'lstat', 'rename', 'unlink', 'fchmod', 'fchown', 'setstat', 'chmod', 'chown', 'readdir', 'opendir', 'mkdir', 'ext_openssh_rename', 'ext_openssh_fsync'])
    wrap(SFTP.prototype, m, 'sftp', (a) => `${m} ${typeof a[0] === 'string' ? a[0] : ''}`);
  process.on('exit', () => writeFileSync(out, JSON.stringify({ t0, rows })));
}
