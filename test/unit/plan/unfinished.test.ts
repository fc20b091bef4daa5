// "Nothing to do" means finished: what the hosts show of a renewal that did not complete (src/plan/unfinished.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPlaybook } from '../../../src/playbook/load.js';
import type { Playbook } from '../../../src/playbook/types.js';
import { resolveTargets } from '../../../src/inventory/targets.js';
import { parkedNodes, unfinishedReasons } from '../../../src/plan/unfinished.js';
import { FakeFleet, inventory } from './fake-fleet.js';

let pb: Playbook;
beforeAll(async () => {
  pb = await loadPlaybook('playbooks/tos-etcd-renew.yaml');
});
const inv = inventory(['m1', 'm2', 'm3'], { flannel: ['f1'] });
const hostsOf = (t: string[]) => resolveTargets(inv, t);
const fleet = () => new FakeFleet().host('m1', { ca: 'CA2', cert: 'L2' }, { caKey: true }).host('m2', { ca: 'CA2', cert: 'L2' }).host('m3', { ca: 'CA2', cert: 'L2' }).host('f1', { ca: 'CA2', cert: 'L2' });

describe('an unfinished renewal, from the hosts alone', () => {
  it('a fleet with one set everywhere and nothing parked or locked is finished', () => {
    expect(unfinishedReasons(inv, pb, fleet().facts, hostsOf, { breakingLock: true })).toEqual([]);
  });
  it('a copy that differs from the first master is unfinished; a host without the file is not', () => {
    const f = fleet().host('m3', { ca: 'CA1', cert: 'L2' }).facts;
    expect(unfinishedReasons(inv, pb, f, hostsOf, { breakingLock: false })).toEqual(['etcd-ca.pem on m3 differs from m1\'s']);
    const g = fleet().facts;
    g.hosts.f1!.certDir.files = g.hosts.f1!.certDir.files.filter((x) => x.path !== 'etcd-key.pem');
    expect(unfinishedReasons(inv, pb, g, hostsOf, { breakingLock: false })).toEqual([]);
  });
  it('a dead run\'s lock counts only when it is being broken', () => {
    const f = fleet().host('m2', { ca: 'CA2', cert: 'L2' }, { lock: { runId: 'R1', startedAt: 'x' } }).facts;
    expect(unfinishedReasons(inv, pb, f, hostsOf, { breakingLock: false })).toEqual([]);
    expect(unfinishedReasons(inv, pb, f, hostsOf, { breakingLock: true })).toEqual(['run R1 died holding the lock on m2: it did not finish']);
  });
  it('a member parked with certroll markers is unfinished and named; one parked without a marker is not certroll\'s', () => {
    const f = fleet().facts;
    f.hosts.m2!.manifests.inPlace = ['tos-apiserver.manifest'];
    f.hosts.m2!.manifests.parked = ['tos-etcd.manifest'];
    expect(parkedNodes(inv, pb, f, hostsOf)).toEqual([]);
    f.hosts.m2!.manifests.markers = [{ file: 'tos-etcd.manifest.certroll-park', readable: true, runId: 'R1', host: 'm2', manifest: 'tos-etcd.manifest', from: '/m/tos-etcd.manifest', to: '/p/tos-etcd.manifest', sha256: 'x', parkedAt: 't' }];
    expect(parkedNodes(inv, pb, f, hostsOf)).toEqual([{ host: 'm2', runIds: ['R1'], files: [`${inv.hosts.find((h) => h.name === 'm2')!.vars.parkDir}/tos-etcd.manifest`] }]);
    expect(unfinishedReasons(inv, pb, f, hostsOf, { breakingLock: false })[0]).toMatch(/^m2: stopped by run R1/);
  });
});
