// "self-signed" in the check table means signed by its own key, not merely named like its issuer (cfssl gives the
// apiserver certificate its CA's very name).
import { afterAll, describe, expect, it } from 'vitest';
import { Workdir } from '../pki/fixtures.js';
import { parseCertificates } from '../../../src/pki/index.js';
import { facts } from '../../../src/check/holdings.js';

const wd = new Workdir();
afterAll(() => wd.remove());

describe('check: self-signed', () => {
  it('a leaf with its CA\'s subject is not self-signed; the CA is', () => {
    const subj = '/O=k8s/CN=kubernetes';
    wd.opensslCa('ca', { subj });
    wd.run('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf-key.pem', '-out', 'leaf.csr', '-subj', subj]);
    wd.run('openssl', ['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '30', '-out', 'leaf.pem']);
    const ca = facts(parseCertificates(wd.read('ca.pem'))[0]!);
    const leaf = facts(parseCertificates(wd.read('leaf.pem'))[0]!);
    expect([ca.selfIssued, ca.selfSigned]).toEqual([true, true]);
    expect([leaf.selfIssued, leaf.selfSigned]).toEqual([true, false]);
  });
});
