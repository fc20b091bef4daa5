// The host fact parser on recorded output of hostFactsScript, and the etcdctl JSON parsers on recorded etcd 3.4 output.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { hostFactsScript, parseHostFacts, parseLockOwner, parseParkMarker } from '../../../src/facts/host-facts.js';
import { assembleEtcdFacts, parseEndpointStatus, parseMemberList } from '../../../src/facts/etcd-facts.js';

const q = { certDir: '/srv/kubernetes', manifestsDir: '/opt/kubernetes/manifests-multi', parkDir: '/opt/kubernetes', pemFiles: { ca: 'etcd-ca.pem', cert: 'etcd.pem' } };
const M = '@@certroll:';
const recorded = [
  `${M}hostname`, 'node-a',
  `${M}certdir`, '755 0 0',
  'etcd-ca.pem\t1338\t644\t0\t0\t1763890000.1234567890',
  'etcd-key.pem\t1679\t600\t0\t0\t1763890000.0000000000',
  'sub dir/token.csv\t12\t640\t0\t0\t1763890001.5',
  `${M}sha256`,
  `${'a'.repeat(64)}  ./etcd-ca.pem`,
  `${'b'.repeat(64)}  ./etcd-key.pem`,
  `${'c'.repeat(64)}  ./sub dir/token.csv`,
  `${M}pem ca`, '-----BEGIN CERTIFICATE-----', 'MIIB', '-----END CERTIFICATE-----',
  `${M}pem cert`, `${M}absent`,
  `${M}manifests`, 'tos-etcd.manifest', 'tos-apiserver.manifest',
  `${M}parked`,
  `${M}df`, '/dev/vda1 1000 500 4242 50% /',
  `${M}du`, '40',
  `${M}lock`, '{"runId":"r1","startedAt":"2026-01-01T00:00:00Z","controlHost":"ops"}',
  `${M}backups`, '/srv/kubernetes-bak-r0',
  `${M}end`, '',
].join('\n');

describe('host facts', () => {
  it('parses the listing, checksums, PEMs, manifests, disk, lock and backups', () => {
    const f = parseHostFacts('tos-1', q, recorded);
    expect(f.hostname).toBe('node-a');
    expect(f.certDir).toMatchObject({ exists: true, mode: 0o755, uid: 0 });
    expect(f.certDir.files.map((x) => [x.path, x.mode, x.sha256[0]])).toEqual([
      ['etcd-ca.pem', 0o644, 'a'],
      ['etcd-key.pem', 0o600, 'b'],
      ['sub dir/token.csv', 0o640, 'c'],
    ]);
    expect(f.pems.ca).toBe('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    expect(f.pems.cert).toBeNull();
    expect(f.manifests.inPlace).toEqual(['tos-etcd.manifest', 'tos-apiserver.manifest']);
    expect(f.disk).toEqual({ availKiB: 4242, certDirKiB: 40 });
    expect(f.lock?.runId).toBe('r1');
    expect(f.backups).toEqual(['/srv/kubernetes-bak-r0']);
  });

  it('keeps sections apart when a file does not end with a newline (the script prints markers on lines of their own)', () => {
    const f = parseHostFacts('tos-1', q, recorded.replace('{"runId":"r1","startedAt":"2026-01-01T00:00:00Z","controlHost":"ops"}', '{"runId":"r2","startedAt":"x"}\n'));
    expect(f.lock?.runId).toBe('r2');
    expect(hostFactsScript(q)).toContain(`printf '\\n@@certroll:%s\\n' 'lock'`);
  });

  it('refuses truncated output rather than guessing', () => {
    expect(() => parseHostFacts('tos-1', q, recorded.replace(`${M}end`, ''))).toThrow(/truncated/);
  });

  it('quotes every path it puts in the script', () => {
    const s = hostFactsScript({ ...q, certDir: "/srv/k8s $(touch /tmp/x)'" });
    expect(s).toContain(`CD='/srv/k8s $(touch /tmp/x)'\\'''`);
  });
});

describe('park markers and the lock owner', () => {
  // Recorded by running hostFactsScript under dash on a directory with: tos-etcd.manifest parked with a valid marker, a
  // truncated marker for tos-apiserver.manifest (its manifest in place), a directory named like a marker, and a lock with pid and step.
  const parked = readFileSync(new URL('./recorded/host-facts-parked.txt', import.meta.url), 'utf8');
  const pq = { ...q, pemFiles: { ca: 'etcd-ca.pem', cert: 'etcd.pem' } };

  it('reads every marker in the park dir in the same script, parsed or reported unreadable', () => {
    const f = parseHostFacts('tos-2', pq, parked);
    expect(f.manifests.inPlace).toEqual(['tos-apiserver.manifest']);
    expect(f.manifests.parked).toEqual(['tos-etcd.manifest']);
    expect(f.manifests.parkedSha256).toEqual({ 'tos-etcd.manifest': '776ae142428e754b67d7d6e3dfdbe1b448f0bac355d8fa24ec9471e21d90b432' });
    expect(f.manifests.markers).toEqual([
      { file: 'dir.manifest.certroll-park', readable: false, manifest: 'dir.manifest', error: 'not a readable regular file' },
      { file: 'tos-apiserver.manifest.certroll-park', readable: false, manifest: 'tos-apiserver.manifest', error: 'not valid JSON' },
      {
        file: 'tos-etcd.manifest.certroll-park',
        readable: true,
        runId: '20261202T093000Z-abc123',
        host: 'tos-2',
        manifest: 'tos-etcd.manifest',
        from: '/opt/kubernetes/manifests-multi/tos-etcd.manifest',
        to: '/opt/kubernetes/tos-etcd.manifest',
        sha256: '776ae142428e754b67d7d6e3dfdbe1b448f0bac355d8fa24ec9471e21d90b432',
        parkedAt: '2026-12-02T09:31:00.000Z',
      },
    ]);
    // The marker's checksum matches the parked file's: what resume compares.
    const m = f.manifests.markers.find((x) => x.readable)!;
    expect(m.readable && f.manifests.parkedSha256[m.manifest]).toBe(m.readable && m.sha256);
  });

  it('reads pid and step from the lock owner', () => {
    expect(parseHostFacts('tos-2', pq, parked).lock).toEqual({ runId: '20261202T093000Z-abc123', startedAt: '2026-12-02T09:30:00.000Z', controlHost: 'ops', user: 'root', pid: 4242, step: 'Restart etcd' });
  });

  it('has no markers and no parked sums when the park dir holds none', () => {
    const f = parseHostFacts('tos-1', q, recorded);
    expect(f.manifests.markers).toEqual([]);
    expect(f.manifests.parkedSha256).toEqual({});
  });

  it('keeps a manifest parked by hand (no marker) apart from one parked by certroll', () => {
    const f = parseHostFacts('tos-2', pq, parked.replace(/@@certroll:marker tos-etcd[^]*?(?=\n@@certroll:df)/, ''));
    expect(f.manifests.parked).toEqual(['tos-etcd.manifest']);
    expect(f.manifests.markers.some((x) => x.manifest === 'tos-etcd.manifest')).toBe(false);
  });

  const good = { runId: '20261202T093000Z-abc123', host: 'tos-2', manifest: 'tos-etcd.manifest', from: '/m/tos-etcd.manifest', to: '/p/tos-etcd.manifest', sha256: 'a'.repeat(64), parkedAt: '2026-12-02T09:31:00Z' };
  const file = 'tos-etcd.manifest.certroll-park';
  it.each([
    ['', 'empty file'],
    ['[1,2]', 'not a JSON object'],
    ['null', 'not a JSON object'],
    [JSON.stringify({ ...good, sha256: undefined }), 'missing or not a string: sha256'],
    [JSON.stringify({ ...good, runId: 7 }), 'missing or not a string: runId'],
    [JSON.stringify({ ...good, runId: '../../etc' }), 'is not a run id'],
    [JSON.stringify({ ...good, sha256: 'xyz' }), 'sha256 is not 64 hex digits'],
    [JSON.stringify({ ...good, manifest: 'tos-apiserver.manifest' }), 'not the one its file name says'],
    [JSON.stringify({ ...good, to: 'relative' }), 'absolute paths'],
  ])('reports the marker %j as unreadable (%s), never throws', (text, why) => {
    const m = parseParkMarker(file, text);
    expect(m.readable).toBe(false);
    expect(!m.readable && m.error).toContain(why);
    expect(m.manifest).toBe('tos-etcd.manifest');
  });

  it('parses a well-formed marker', () => {
    expect(parseParkMarker(file, JSON.stringify(good))).toEqual({ file, readable: true, ...good });
  });

  it('reports a lock owner file that is not an owner object, and keeps control characters out of it', () => {
    expect(parseLockOwner('{"runId":"r').unreadable).toBe('not valid JSON');
    expect(parseLockOwner('{}').unreadable).toContain('no runId');
    const l = parseLockOwner(JSON.stringify({ runId: 'r1', startedAt: 'x', user: 'evil\u001b[2Jname', pid: -3 }));
    expect(l.user).toBe('evil?[2Jname');
    expect(l.pid).toBeUndefined();
    expect(l.unreadable).toBeUndefined();
  });
});

describe('etcd facts', () => {
  const members = '{"header":{"cluster_id":17237436991929493444,"member_id":9372538179322589801,"raft_term":2},"members":[{"ID":9372538179322589801,"name":"m1","peerURLs":["https://10.1.0.1:2380"],"clientURLs":["https://10.1.0.1:4001"]},{"ID":10501334649042878790,"name":"m2","peerURLs":["https://10.1.0.2:2380"],"clientURLs":["https://10.1.0.2:4001"]}]}';
  const status = '[{"Endpoint":"https://10.1.0.1:4001","Status":{"header":{"cluster_id":17237436991929493444,"member_id":9372538179322589801,"revision":5,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":10501334649042878790,"raftIndex":42,"raftTerm":2,"raftAppliedIndex":42,"dbSizeInUse":20480}},{"Endpoint":"https://10.1.0.2:4001","Status":{"header":{"cluster_id":17237436991929493444,"member_id":10501334649042878790,"revision":5,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":10501334649042878790,"raftIndex":43,"raftTerm":2,"raftAppliedIndex":43,"dbSizeInUse":20480}}]';

  it('keeps 64-bit member ids exact', () => {
    expect(parseMemberList(members).map((m) => m.id)).toEqual([BigInt('9372538179322589801').toString(16), BigInt('10501334649042878790').toString(16)]);
    expect(parseEndpointStatus(status)[0]!.leaderId).toBe(BigInt('10501334649042878790').toString(16));
  });

  it('maps members to inventory hosts by client URL and finds the leader host', () => {
    const f = assembleEtcdFacts('a', { members, status, health: '[{"endpoint":"https://10.1.0.1:4001","health":true},{"endpoint":"https://10.1.0.2:4001","health":true}]' }, [
      { name: 'a', hostname: 'a', address: '10.1.0.1' },
      { name: 'b', hostname: 'b', address: '10.1.0.2' },
    ]);
    expect(f.leaderHost).toBe('b');
    expect(f.health.every((h) => h.healthy)).toBe(true);
    expect(f.error).toBeUndefined();
  });
});
