// The floor for `certroll check`: a bare ssh2 script, one connection and one exec per host, N hosts at once, same files.
// Usage: node bench/check/bare-ssh2.mjs --inventory LAB/inventory-extra.yaml [--forks 20] [--command '…'] [--nagle]
// Prints one JSON line: hosts, ok, failed, bytes read, wall ms. Host keys are checked against the inventory's known_hosts
// (exact key match, like certroll), the client key is the inventory's identity file; algorithms are ssh2's defaults
// unless --kex/--cipher are given (to compare with certroll's preferences).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { Client } = require('ssh2');

const { values: args } = parseArgs({
  options: {
    inventory: { type: 'string' },
    forks: { type: 'string', default: '20' },
    command: { type: 'string' },
    kex: { type: 'string' },
    cipher: { type: 'string' },
    nagle: { type: 'boolean', default: false },
  },
});
if (!args.inventory) {
  console.error('usage: node bench/check/bare-ssh2.mjs --inventory FILE [--forks N] [--command CMD]');
  process.exit(3);
}
export const readCommand =
  "cat /srv/kubernetes/*.pem /etc/kubernetes/pki/*.crt /etc/kubernetes/pki/*/*.crt /var/lib/kubelet/pki/*.crt /var/lib/kubelet/pki/*.pem /etc/kubernetes/*.conf 2>/dev/null | awk '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/'";
const command = args.command ?? readCommand;

const inv = readFileSync(args.inventory, 'utf8');
const hosts = [...inv.matchAll(/^\s+([\w.-]+): \{ address: ([\d.]+)/gm)].map((m) => ({ name: m[1], address: m[2] }));
const port = Number(/^\s+port: (\d+)\s*$/m.exec(inv)?.[1] ?? 22);
const privateKey = readFileSync(/identityFile: (\S+)/.exec(inv)[1]);
const known = new Map();
for (const line of readFileSync(/knownHostsFile: (\S+)/.exec(inv)[1], 'utf8').split('\n')) {
  const [names, , b64] = line.trim().split(/\s+/);
  if (!b64) continue;
  for (const n of names.split(',')) known.set(n.replace(/^\[([^\]]+)\]:\d+$/, '$1'), Buffer.from(b64, 'base64'));
}

function one(host) {
  return new Promise((resolve) => {
    const c = new Client();
    let bytes = 0;
    const done = (ok, why) => {
      c.end();
      resolve({ ok, bytes, why });
    };
    c.on('error', (e) => done(false, e.message));
    c.on('ready', () => {
      c.exec(command, (err, ch) => {
        if (err) return done(false, err.message);
        ch.on('data', (d) => (bytes += d.length));
        ch.stderr.on('data', () => undefined);
        ch.on('close', (code) => done(code === 0, `exit ${code}`));
      });
    });
    c.connect({
      host: host.address,
      port,
      username: 'root',
      privateKey,
      readyTimeout: 30_000,
      hostVerifier: (key) => known.get(host.address)?.equals(key) === true,
      algorithms: {
        serverHostKey: ['ssh-ed25519'],
        ...(args.kex ? { kex: args.kex.split(',') } : {}),
        ...(args.cipher ? { cipher: args.cipher.split(',') } : {}),
      },
    });
    // As certroll does (src/ssh/handshake.ts): Nagle off, or each small SSH write waits for the peer's delayed ACK
    // (~200 ms per handshake on loopback). `--nagle` keeps Node's default, to show the difference.
    if (!args.nagle) c.setNoDelay(true);
  });
}

const t0 = process.hrtime.bigint();
let next = 0;
const results = [];
await Promise.all(
  Array.from({ length: Math.min(Number(args.forks), hosts.length) }, async () => {
    while (next < hosts.length) results.push(await one(hosts[next++]));
  }),
);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const failed = results.filter((r) => !r.ok);
console.log(JSON.stringify({ hosts: hosts.length, ok: results.length - failed.length, failed: failed.length, firstFailure: failed[0]?.why, bytes: results.reduce((a, r) => a + r.bytes, 0), ms: Math.round(ms) }));
