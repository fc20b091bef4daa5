// PKI benchmark: median time to renew a CA and to issue one leaf (key generation included), certroll vs the openssl CLI in the same run.
// Run after `npm run build`: node bench/pki/run.mjs [--runs N] [--forge-runs N]
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import forge from 'node-forge';
import { issueLeaf, renewCa } from '../../dist/pki/index.js';
import { Secret } from '../../dist/secret.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('--runs', 21);
const FORGE_RUNS = arg('--forge-runs', 3);

const dir = mkdtempSync(join(tmpdir(), 'certroll-bench-pki-'));
const p = (f) => join(dir, f);
const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function time(runs, fn) {
  const ms = [];
  await fn(); // warm-up (module loading, JIT), not counted
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return { median: median(ms), min: Math.min(...ms), max: Math.max(...ms) };
}

/** Largest gap between 2 ms timer ticks while fn runs: how long the event loop was frozen. */
async function maxEventLoopStall(fn) {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 2);
  await fn();
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(timer);
  return worst;
}

try {
  // Two CAs the way TOS makes them (cfssl style subject), RSA-2048 and EC P-256, made by openssl.
  for (const [name, keyArgs] of [
    ['rsa', ['-newkey', 'rsa:2048']],
    ['ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']],
  ]) {
    openssl('req', '-x509', ...keyArgs, '-nodes', '-keyout', `${name}-ca-key.pem`, '-out', `${name}-ca.pem`, '-days', '3650',
      '-subj', '/C=CN/ST=Beijing/L=Beijing/O=k8s/OU=System/CN=etcd-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  }
  const san = 'DNS:tos-1,DNS:tos-2,DNS:tos-3,IP:127.0.0.1,IP:10.10.10.1,IP:172.22.25.10,IP:172.22.25.11,IP:172.22.25.12';
  const sans = san.split(',');
  const rows = [];

  for (const [label, name, keyType, newkey] of [
    ['RSA 2048', 'rsa', 'rsa2048', ['-newkey', 'rsa:2048']],
    ['ECDSA P-256', 'ec', 'ecdsa-p256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']],
  ]) {
    const caCertPem = readFileSync(p(`${name}-ca.pem`), 'utf8');
    const caKeyPem = new Secret(readFileSync(p(`${name}-ca-key.pem`), 'utf8'));

    const renewOurs = await time(RUNS, () => renewCa({ caCertPem, caKeyPem, days: 36500 }));
    const renewOpenssl = await time(RUNS, () =>
      openssl('x509', '-in', `${name}-ca.pem`, '-days', '36500', '-signkey', `${name}-ca-key.pem`, '-out', `${name}-ca-new.pem`));
    rows.push([`renew CA (${label} key)`, renewOurs, renewOpenssl]);

    const issueOurs = await time(RUNS, () =>
      issueLeaf({ caCertPem, caKeyPem, subject: { C: 'CN', O: 'k8s', CN: 'etcd' }, sans, days: 36500, keyType }));
    // openssl 3: one process generates the key and signs with the CA (req -x509 -CA), the same work.
    const issueOpenssl = await time(RUNS, () =>
      openssl('req', '-x509', ...newkey, '-nodes', '-keyout', `${name}-leaf-key.pem`, '-out', `${name}-leaf.pem`,
        '-subj', '/C=CN/O=k8s/CN=etcd', '-days', '36500', '-CA', `${name}-ca.pem`, '-CAkey', `${name}-ca-key.pem`,
        '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
        '-addext', 'extendedKeyUsage=serverAuth,clientAuth', '-addext', `subjectAltName=${san}`));
    rows.push([`issue leaf + ${label} key`, issueOurs, issueOpenssl]);
  }

  // Key generation alone: node-forge pure JS vs Node's native generator.
  forge.options.usePureJavaScript = true;
  const forgeGen = await time(FORGE_RUNS, () => forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 }));
  const nativeGen = await time(RUNS, () => generateKeyPairSync('rsa', { modulusLength: 2048 }));
  const caCertPem = readFileSync(p('rsa-ca.pem'), 'utf8');
  const caKeyPem = new Secret(readFileSync(p('rsa-ca-key.pem'), 'utf8'));
  const stallOurs = await maxEventLoopStall(() =>
    issueLeaf({ caCertPem, caKeyPem, subject: { CN: 'etcd' }, sans, keyType: 'rsa2048' }));
  const stallForge = await maxEventLoopStall(async () => forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 }));

  const f = (ms) => `${ms.toFixed(1).padStart(8)} ms`;
  const openVer = spawnSync('openssl', ['version']).stdout.toString().trim();
  console.log(`certroll PKI benchmark — node ${process.version}, ${openVer}, ${RUNS} runs (median, min–max)\n`);
  console.log(`${'work'.padEnd(30)}${'certroll'.padStart(12)}${'openssl CLI'.padStart(14)}   ratio`);
  for (const [what, ours, theirs] of rows) {
    console.log(`${what.padEnd(30)}${f(ours.median)}  ${f(theirs.median)}   ${(ours.median / theirs.median).toFixed(2)}×   (certroll ${ours.min.toFixed(0)}–${ours.max.toFixed(0)}, openssl ${theirs.min.toFixed(0)}–${theirs.max.toFixed(0)})`);
  }
  console.log(`\nRSA-2048 key generation: node-forge pure JS ${f(forgeGen.median)} (${FORGE_RUNS} runs), Node native ${f(nativeGen.median)}`);
  console.log(`Longest event-loop freeze: issueLeaf(rsa2048) ${f(stallOurs)}, forge pure-JS keygen ${f(stallForge)}`);
  const leafRsa = rows[1];
  const ok300 = leafRsa[1].median < 300;
  const ok2x = leafRsa[1].median <= 2 * leafRsa[2].median;
  console.log(`\nTarget RSA-2048 leaf incl. key < 300 ms median: ${ok300 ? 'met' : 'NOT met'} (${leafRsa[1].median.toFixed(1)} ms); within 2× of openssl: ${ok2x ? 'met' : 'NOT met'} (${(leafRsa[1].median / leafRsa[2].median).toFixed(2)}×)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
