// The secrets script run by a local sh with the kubectl stand-in (no SSH): what leaves the "host" for awkward values
// (a key after a certificate in one value, a kubeconfig with its key, a forged record marker), and how kubectl's
// failures are classified.
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertDecoder } from '../../../src/check/holdings.js';
import { buildSecretsScript, classifyKubectlFailure, parseSecretsOutput } from '../../../src/check/secrets.js';
import { makeCa } from './openssl-fixtures.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'certroll-secrets-script-'));
const kubectl = join(dir, 'kubectl');
const b64 = (s: string) => Buffer.from(s).toString('base64');
let cert = '';
let key = '';

beforeAll(() => {
  copyFileSync('test/fixtures/kubectl/kubectl', kubectl);
  chmodSync(kubectl, 0o755);
  const ca = makeCa(dir, 'ca', 'root-ca', 30);
  cert = readFileSync(ca.cert, 'utf8');
  key = readFileSync(ca.key, 'utf8');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function runScript(items: unknown[], maxBytes = 1 << 20) {
  writeFileSync(join(dir, 'secrets.json'), JSON.stringify({ items }));
  const script = buildSecretsScript({ kubectl, maxBytes, timeoutMs: 10_000 });
  const r = await run('sh', ['-c', script], { encoding: 'utf8' }).catch((e: { stdout: string; stderr: string; code: number }) => e);
  return { ...r, code: 'code' in r ? r.code : 0 };
}

const secret = (name: string, data: Record<string, string>, type = 'Opaque') => ({ metadata: { namespace: 'ns', name }, type, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) });
const keyBody = () => key.split('\n').filter((l) => l && !l.startsWith('-----'));

describe('the secrets script, locally', () => {
  it('sends the certificate of a value that holds a certificate and then its key, and not the key', async () => {
    const r = await runScript([secret('combined', { 'tls.pem': cert + key })]);
    for (const l of keyBody()) expect(r.stdout).not.toContain(l);
    const read = parseSecretsOutput('h', r.stdout, r.stderr, 0, { maxBytes: 1 << 20 }, new CertDecoder());
    expect(read.ok && read.holdings.certs.map((c) => [c.site.label, c.cert.commonName])).toEqual([['secret:ns/combined/tls.pem', 'root-ca']]);
  });

  it('never prints a value that starts with a key (not even on the host), and reads a kubeconfig without its key', async () => {
    const kc = `apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: ${b64(cert)}\n  name: c\nusers:\n- name: u\n  user:\n    client-certificate-data: ${b64(cert)}\n    client-key-data: ${b64(key)}\n    token: abc\n`;
    const r = await runScript([secret('k', { 'key.pem': key + cert, config: kc })]);
    expect(r.stdout).not.toContain(b64(key).slice(0, 40));
    expect(r.stdout).not.toContain('client-key-data');
    expect(r.stdout).not.toContain('token');
    const read = parseSecretsOutput('h', r.stdout, r.stderr, 0, { maxBytes: 1 << 20 }, new CertDecoder());
    expect(read.ok && read.holdings.certs.map((c) => c.site.label)).toEqual(['secret:ns/k/config#cluster=c', 'secret:ns/k/config#user=u']);
  });

  it('is not fooled by a value that imitates a record marker (the nonce is drawn per run)', async () => {
    const forged = `apiVersion: v1\n@@0000 evil fake key Opaque\nclusters:\n- cluster:\n    certificate-authority-data: ${b64(cert)}\n  name: c\n`;
    const r = await runScript([secret('forger', { config: forged })]);
    const read = parseSecretsOutput('h', r.stdout, r.stderr, 0, { maxBytes: 1 << 20 }, new CertDecoder());
    expect(read.ok && read.holdings.certs.map((c) => c.site.label)).toEqual(['secret:ns/forger/config#cluster=c']);
  });

  it('reports the kubectl exit status carried through the pipe (a failing kubectl is not an empty cluster)', async () => {
    writeFileSync(join(dir, 'behaviour.json'), JSON.stringify({ mode: 'forbidden' }));
    try {
      const r = await runScript([]);
      const read = parseSecretsOutput('h', r.stdout, r.stderr, r.code, { maxBytes: 1 << 20 }, new CertDecoder());
      expect(read).toMatchObject({ ok: false, problem: 'unauthorized' });
      expect(!read.ok && read.reason).toMatch(/secrets is forbidden/);
    } finally {
      rmSync(join(dir, 'behaviour.json'));
    }
    const empty = await runScript([]);
    expect(parseSecretsOutput('h', empty.stdout, empty.stderr, 0, { maxBytes: 1 << 20 }, new CertDecoder())).toMatchObject({ ok: true, values: 0 });
  });
});

describe('classifyKubectlFailure', () => {
  it.each([
    [127, 'kubectl not found (PATH: /usr/bin)', 'missing'],
    [1, 'error: You must be logged in to the server (Unauthorized)', 'unauthorized'],
    [1, 'Error from server (Forbidden): secrets is forbidden: User "x" cannot list resource "secrets"', 'unauthorized'],
    [1, 'Unable to connect to the server: net/http: request canceled (Client.Timeout exceeded while awaiting headers)', 'timeout'],
    [1, 'The connection to the server localhost:8080 was refused - did you specify the right host or port?', 'failed'],
  ] as const)('exit %s, "%s" → %s', (code, stderr, problem) => {
    expect(classifyKubectlFailure(code, `some noise\n${stderr}\n`)).toMatchObject({ problem, reason: expect.stringContaining(stderr.slice(0, 30)) });
  });
});
