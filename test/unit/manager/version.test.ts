// Which TOS version directory to update: inventory, the only one present, the registry image tag; else ask, naming the candidates.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseVersion, listVersionsScript, parseVersionListing, registryTagFrom } from '../../../src/manager/version.js';
import { parseTemplateFiles, parseVersionFiles, readTemplateFiles, versionFilesScript } from '../../../src/manager/facts.js';
import { quote } from '../../../src/ssh/quote.js';
import { sha256 } from '../../../src/hash.js';
import { LocalRemote } from '../../support/local-remote.js';

const root = mkdtempSync(join(tmpdir(), 'certroll-tos root-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const base = { root: '/x/TOS', rootExists: true };

describe('chooseVersion', () => {
  it('takes vars.tosVersion when it names a template directory', () => {
    expect(chooseVersion({ ...base, dirs: ['tos-2.0', 'tos-2.1'], candidates: ['tos-2.0', 'tos-2.1'], configured: 'tos-2.1' })).toEqual({ version: 'tos-2.1', source: 'inventory' });
  });
  it('refuses a configured version that is not there, listing what is', () => {
    expect(chooseVersion({ ...base, dirs: ['tos-2.0'], candidates: ['tos-2.0'], configured: 'tos-2.1' }).problem).toMatch(/tos-2.1.*found: tos-2.0/);
  });
  it('takes the only directory that has templates/gencerts', () => {
    expect(chooseVersion({ ...base, dirs: ['docs', 'tos-2.1'], candidates: ['tos-2.1'] })).toEqual({ version: 'tos-2.1', source: 'single-directory' });
  });
  it('with several, takes the one the registry image tag names', () => {
    expect(chooseVersion({ ...base, dirs: ['tos-2.0', 'tos-2.1'], candidates: ['tos-2.0', 'tos-2.1'], registryTag: 'tos-2.0' })).toEqual({ version: 'tos-2.0', source: 'registry-image' });
  });
  it('ambiguous: asks for vars.tosVersion and names the candidates (and the unmatched tag)', () => {
    const p = chooseVersion({ ...base, dirs: ['tos-2.0', 'tos-2.1'], candidates: ['tos-2.0', 'tos-2.1'], registryTag: 'manager-7.0.1910a-final' }).problem!;
    expect(p).toContain('tos-2.0, tos-2.1');
    expect(p).toContain('manager-7.0.1910a-final');
    expect(p).toContain('vars.tosVersion');
  });
  it('a missing root says which variable to set', () => {
    expect(chooseVersion({ ...base, rootExists: false, dirs: [], candidates: [] }).problem).toContain('vars.managerTemplateDir');
  });
});

describe('registryTagFrom', () => {
  it('finds the registry pod image tag in kubectl jsonpath output', () => {
    const out = 'flannel-abc\ttranswarp/flannel:v0.10.0 \nregistry-7d9\tregistry.local:5000/transwarp/registry:tos-2.1 \n';
    expect(registryTagFrom(out)).toBe('tos-2.1');
    expect(registryTagFrom('tos-registry-0\ttranswarp/registry:manager-7.0.1910a-final \n')).toBe('manager-7.0.1910a-final');
    expect(registryTagFrom('etcd-1\ttranswarp/etcd:3.4 \n')).toBeUndefined();
  });
});

describe('listing and reading the template directory with the real shell', () => {
  it('lists version directories, marking those with templates/gencerts, even under a path with a space', async () => {
    mkdirSync(join(root, 'tos-2.1', 'templates', 'gencerts'), { recursive: true });
    mkdirSync(join(root, 'tos-2.0', 'templates'), { recursive: true });
    writeFileSync(join(root, 'README'), 'x');
    const r = new LocalRemote();
    const l = parseVersionListing((await r.sh(listVersionsScript(quote(root)))).stdout);
    expect(l).toEqual({ rootExists: true, dirs: ['tos-2.0', 'tos-2.1'], candidates: ['tos-2.1'] });
    expect(parseVersionListing((await r.sh(listVersionsScript(quote(join(root, 'nope'))))).stdout).rootExists).toBe(false);
  });

  it('the listing and every version\'s template files in one exec: the same facts as reading the chosen directory on its own', async () => {
    const gen = (v: string) => join(root, v, 'templates', 'gencerts');
    mkdirSync(gen('tos 2.2'), { recursive: true });
    writeFileSync(join(gen('tos 2.2'), 'etcd-ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB 2.2\n-----END CERTIFICATE-----\n');
    writeFileSync(join(gen('tos 2.2'), 'config.json'), '{ "expiry": "87600h" }');
    mkdirSync(gen('tos-2.3'), { recursive: true });
    writeFileSync(join(gen('tos-2.3'), 'config.json'), '{}\n');
    const r = new LocalRemote();
    const names = ['etcd-ca.pem', 'config.json'];
    const out = (await r.sh(`${listVersionsScript(quote(root))}\n${versionFilesScript(names)}`)).stdout;
    expect(r.counters.roundTrips).toBe(1);
    // (tos-2.1 of the test above has an empty templates/gencerts.)
    expect(parseVersionListing(out).candidates).toEqual(['tos 2.2', 'tos-2.1', 'tos-2.3']);
    const files = parseVersionFiles(root, names, out);
    expect([...files.keys()].sort()).toEqual(['tos 2.2', 'tos-2.1', 'tos-2.3']);
    for (const v of ['tos 2.2', 'tos-2.3']) expect(files.get(v)).toEqual(await readTemplateFiles(r, gen(v), names));
    expect(files.get('tos 2.2')!['config.json']).toMatchObject({ exists: true, content: '{ "expiry": "87600h" }', sha256: sha256('{ "expiry": "87600h" }') });
    expect(files.get('tos-2.3')!['etcd-ca.pem']).toEqual({ path: join(gen('tos-2.3'), 'etcd-ca.pem'), exists: false });
    // A missing root: the listing says so and ends the script; no version read.
    const none = (await r.sh(`${listVersionsScript(quote(join(root, 'nope')))}\n${versionFilesScript(names)}`)).stdout;
    expect(parseVersionListing(none).rootExists).toBe(false);
    expect(parseVersionFiles(join(root, 'nope'), names, none).size).toBe(0);
  });

  it('reads mode, owner, sha256 and exact content of each template file; a missing one is marked absent', async () => {
    const g = join(root, 'tos-2.1', 'templates', 'gencerts');
    const config = '{\n  "expiry": "87600h"\n}\n';
    writeFileSync(join(g, 'config.json'), config, { mode: 0o640 });
    const f = await readTemplateFiles(new LocalRemote(), g, ['config.json', 'etcd-ca.pem']);
    expect(f['config.json']).toMatchObject({ exists: true, mode: 0o640, sha256: sha256(config), size: config.length, content: config });
    expect(f['etcd-ca.pem']).toEqual({ path: `${g}/etcd-ca.pem`, exists: false });
    expect(parseTemplateFiles('/d', ['a'], 'garbage\n')).toEqual({ a: { path: '/d/a', exists: false } });
  });
});
