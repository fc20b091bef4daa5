// Keeps the kubectl stand-in (test/fixtures/kubectl/kubectl) honest: with the arguments certroll sends, its output must
// equal, byte for byte, what real kubectl prints against a minimal API server holding the same secrets (run only where a
// kubectl is installed), and it must refuse what kubectl or the API server would refuse.
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIELD_SELECTOR, goTemplate } from '../../../src/check/secrets.js';
import { makeCa, makeLeaf } from './openssl-fixtures.js';
import { readFileSync } from 'node:fs';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'certroll-standin-'));
const standin = join(dir, 'kubectl');
const b64 = (s: string) => Buffer.from(s).toString('base64');
let items: unknown[] = [];
let server: Server;
let port = 0;
const requests: string[] = [];

/** The API server's side of a field selector on secrets: `type`, `metadata.name`, `metadata.namespace`, = == !=. */
function matches(selector: string, s: { type: string; metadata: { name: string; namespace: string } }): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const m = /^([a-z.]+)(!=|==|=)(.*)$/.exec(term)!;
    const got = m[1] === 'type' ? s.type : m[1] === 'metadata.name' ? s.metadata.name : s.metadata.namespace;
    return m[2] === '!=' ? got !== m[3] : got === m[3];
  });
}

beforeAll(async () => {
  copyFileSync('test/fixtures/kubectl/kubectl', standin);
  const ca = makeCa(dir, 'ca', 'root', 30);
  const leaf = makeLeaf(dir, 'leaf', 'web', ca, 10, 'DNS:web');
  const kubeconfig = `apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: ${b64(readFileSync(ca.cert, 'utf8'))}\n    server: https://x\n  name: k\nusers:\n- name: u\n  user:\n    client-certificate-data: ${b64(readFileSync(leaf.cert, 'utf8'))}\n    client-key-data: ${b64(readFileSync(leaf.key, 'utf8'))}\n`;
  const secret = (namespace: string, name: string, type: string, data?: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type,
    ...(data ? { data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) } : {}),
  });
  items = [
    secret('web', 'web-tls', 'kubernetes.io/tls', { 'tls.key': readFileSync(leaf.key, 'utf8'), 'tls.crt': readFileSync(leaf.cert, 'utf8') }),
    secret('istio-system', 'cacerts', 'Opaque', { 'root-cert.pem': readFileSync(ca.cert, 'utf8'), 'ca-key.pem': readFileSync(ca.key, 'utf8'), 'cert-chain.pem': '' }),
    secret('istio-system', 'kc', 'Opaque', { config: kubeconfig, 'short': 'x' }),
    secret('default', 'empty', 'Opaque'),
    secret('app', 'sh.helm.release.v1.a.v1', 'helm.sh/release.v1', { release: readFileSync(ca.cert, 'utf8') }),
  ];
  writeFileSync(join(dir, 'secrets.json'), JSON.stringify({ items }));
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    requests.push(url.pathname + url.search);
    const send = (o: unknown) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(o));
    };
    if (url.pathname === '/api') return send({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
    if (url.pathname === '/apis') return send({ kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    if (url.pathname === '/api/v1') return send({ kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'secrets', singularName: 'secret', namespaced: true, kind: 'Secret', verbs: ['get', 'list'] }] });
    if (url.pathname === '/api/v1/secrets') {
      const sel = url.searchParams.get('fieldSelector') ?? '';
      return send({ kind: 'SecretList', apiVersion: 'v1', metadata: {}, items: items.filter((s) => matches(sel, s as never)) });
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  writeFileSync(join(dir, 'kubeconfig'), `apiVersion: v1\nkind: Config\nclusters: [{name: f, cluster: {server: "http://127.0.0.1:${port}"}}]\ncontexts: [{name: f, context: {cluster: f, user: u}}]\nusers: [{name: u, user: {}}]\ncurrent-context: f\n`);
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const args = () => ['--kubeconfig', join(dir, 'kubeconfig'), 'get', 'secrets', '--all-namespaces', '--field-selector', FIELD_SELECTOR, '-o', `go-template=${goTemplate('0123abcd')}`, '--request-timeout=10s'];

function realKubectl(): string | undefined {
  const r = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 && /Client Version/.test(r.stdout) ? 'kubectl' : undefined;
}

describe('the kubectl stand-in', () => {
  it('prints what real kubectl prints for certroll\'s arguments (when kubectl is installed)', async (ctx) => {
    const kubectl = realKubectl();
    if (!kubectl) ctx.skip();
    const real = await run(kubectl!, args(), { encoding: 'latin1', maxBuffer: 1 << 24 });
    const fake = await run(standin, args(), { encoding: 'latin1', maxBuffer: 1 << 24 });
    expect(real.stdout.length).toBeGreaterThan(1000);
    expect(fake.stdout).toBe(real.stdout);
    // The selector reached the API server, which dropped the Helm release.
    expect(requests.some((r) => r.startsWith('/api/v1/secrets?') && decodeURIComponent(r).includes('type!=helm.sh/release.v1'))).toBe(true);
    expect(real.stdout).toContain('@@0123abcd web web-tls tls.crt kubernetes.io/tls\n-----BEGIN CERTIFICATE-----');
    expect(real.stdout).not.toContain('PRIVATE KEY');
    expect(real.stdout).not.toContain('sh.helm.release');
  });

  it('refuses a field the API server does not know, an unknown flag, and a template construct it does not implement', async () => {
    const fail = async (a: string[]) => run(standin, a).then(() => 'exit 0', (e: { stderr: string }) => e.stderr);
    expect(await fail(['get', 'secrets', '-A', '--field-selector', 'data.x=1', '-o', 'go-template={{.}}'])).toMatch(/not a known field selector/);
    expect(await fail(['get', 'secrets', '--bogus'])).toMatch(/unknown flag: --bogus/);
    expect(await fail(['get', 'secrets', '-A', '-o', 'go-template={{with .items}}x{{end}}'])).toMatch(/does not implement/);
    expect(await fail(['get', 'secrets', '-A', '-o', 'go-template={{nosuch .items}}'])).toMatch(/function "nosuch" not defined|not defined/);
  });
});
