// Reading a certificate loads only node-forge's ASN.1 core (lib/asn1.js with forge, util, baseN and oids), not the whole
// package (its index loads every cipher, TLS, PKCS#12…: ~60 ms more start-up for check, plan and run; src/pki/der.ts).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseCertificates } from '../../../src/pki/index.js';
import { Workdir } from './fixtures.js';

let w: Workdir;
beforeAll(() => {
  w = new Workdir();
  w.opensslCa('ca');
});
afterAll(() => w.remove());

it('decodes a certificate with node-forge/lib/asn1.js and not the package index', () => {
  const forgeFiles = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => /[\\/]node-forge[\\/]/.test(k)).map((k) => k.replace(/.*[\\/]node-forge[\\/]/, ''));
  expect(forgeFiles()).toEqual([]);
  const [cert] = parseCertificates(readFileSync(w.path('ca.pem')));
  expect(cert?.subject.text).toContain('CN=test-ca');
  expect(forgeFiles().sort()).toEqual(['lib/asn1.js', 'lib/baseN.js', 'lib/forge.js', 'lib/oids.js', 'lib/util.js']);
});
