// The playbook against its inventory, before any connection: single-host steps, templates for every targeted host,
// backups covering written hosts, one restart per host, directories that do not collide. Each names file, line and field.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { checkAgainstInventory, etcdctlHosts, stepHosts } from '../../../src/playbook/against-inventory.js';
import { formatInputIssue } from '../../../src/errors.js';
import { renderArgv } from '../../../src/playbook/template.js';
import { hostScope } from '../../../src/inventory/targets.js';

const SHIPPED = readFileSync('playbooks/tos-etcd-renew.yaml', 'utf8');
const INV = [
  'vars: { serviceIp: 10.10.10.1 }',
  'hosts:',
  '  m1: { address: 10.9.0.1 }',
  '  m2: { address: 10.9.0.2 }',
  '  m3: { address: 10.9.0.3 }',
  '  f1: { address: 10.9.0.4 }',
  '  mgr: { address: 10.9.0.9 }',
  'groups:',
  '  master: [m1, m2, m3]',
  '  etcd: [m1, m2, m3]',
  '  flannel: [f1]',
  '  manager: [mgr]',
  '',
].join('\n');

function problems(invText: string, pbText: string): string[] {
  const inv = parseInventory(invText, 'inv.yaml', { home: '/h' });
  const pb = parsePlaybook(pbText, 'pb.yaml');
  return checkAgainstInventory(inv, pb).map(formatInputIssue);
}
const lineOf = (t: string, needle: string) => t.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('playbook against inventory', () => {
  it('the shipped playbook against a sound inventory: no problem', () => {
    expect(problems(INV, SHIPPED)).toEqual([]);
  });

  it('a single-host step (on:) that resolves to several hosts or none is refused at its on: line', () => {
    const pb = SHIPPED.replace('    on: first(master)\n    command:', '    on: master\n    command:');
    expect(problems(INV, pb)).toEqual([expect.stringMatching(new RegExp(`^steps\\[6\\]\\.on: restart-flannel runs on one host, but "master" is 3 hosts \\(m1, m2, m3\\); use first\\(GROUP\\) or a group of one \\(pb\\.yaml:${lineOf(pb, 'on: master')}\\)`))]);
    const inv = INV.replace('  flannel: [f1]', '  flannel: []');
    const pb2 = SHIPPED.replace('    on: first(master)\n    command:', '    on: first(flannel)\n    command:');
    expect(problems(inv, pb2)[0]).toMatch(/^steps\[6\]\.on: restart-flannel runs on one host, but "first\(flannel\)" is no host/);
  });

  it('a template that does not resolve for one targeted host is refused before any connection, naming the host', () => {
    const inv = INV.replace('  m3: { address: 10.9.0.3 }', '  m3: { address: 10.9.0.3, vars: { tosVersion: tos-2.1 } }');
    const pb = SHIPPED.replace('containerCheck: [docker, ps]', 'containerCheck: [docker, ps, "{{ vars.tosVersion }}"]');
    expect(problems(inv, pb)).toEqual([expect.stringMatching(new RegExp(`^steps\\[5\\]\\.containerCheck\\[2\\]: \\{\\{ vars\\.tosVersion \\}\\} is not set for hosts m1, m2 \\(set vars\\.tosVersion in .*inv\\.yaml\\) \\(pb\\.yaml:${lineOf(pb, 'containerCheck')}\\)`))]);
    const pb2 = SHIPPED.replace('containerCheck: [docker, ps]', 'containerCheck: [docker, ps, "{{ vars.managerDb }}", "{{ vars.nosuch }}"]');
    const got = problems(INV, pb2).join('\n');
    expect(got).toMatch(/containerCheck\[2\]: \{\{ vars\.managerDb \}\} is not set for hosts m1, m2, m3/);
    expect(got).toMatch(/containerCheck\[3\]: \{\{ vars\.nosuch \}\} refers to nothing for hosts m1, m2, m3 \(variables: .*certDir/);
    const inv3 = INV.replace("vars: { serviceIp: 10.10.10.1 }", "vars: { serviceIp: 10.10.10.1, managerDb: { host: 10.9.0.9, user: u, database: d } }");
    expect(problems(inv3, pb2.replace(', "{{ vars.nosuch }}"', ''))).toEqual([expect.stringMatching(/containerCheck\[2\]: \{\{ vars\.managerDb \}\} is a mapping, not a value \(name one of its fields: host, port, user, database, passwordEnv\) for hosts m1, m2, m3/)]);
  });

  it('etcdctl is resolved for every etcd member and the first master', () => {
    const pb = SHIPPED.replace('files:', 'etcdctl: [etcdctl, --endpoints, "{{ vars.tosVersion }}"]\nfiles:');
    expect(problems(INV, pb)).toEqual([expect.stringMatching(/^etcdctl\[2\]: \{\{ vars\.tosVersion \}\} is not set for hosts m1, m2, m3/)]);
  });

  it('every host a step writes a cert dir on is covered by an earlier backup', () => {
    const pb = SHIPPED.replace('  - type: backup\n    targets: all', '  - type: backup\n    targets: [etcd]');
    expect(problems(INV, pb)).toEqual([expect.stringMatching(/^steps\[4\]\.type: distribute changes f1, mgr, which no earlier backup step covers/)]);
  });

  it('a host restarted by two rolling-restart steps is refused', () => {
    const pb = SHIPPED.replace('    targets: etcd\n    manifests:', '    targets: [master]\n    manifests:').replace('  - type: restart-flannel', '  - type: rolling-restart\n    targets: [etcd]\n  - type: restart-flannel');
    expect(problems(INV, pb)[0]).toMatch(/^steps\[6\]\.targets: m1, m2, m3 would be restarted again \(already by step 6\): one rolling-restart per host/);
  });

  it('parkDir = manifestsDir, or either one equal to / inside the cert dir, is refused at the line that set it', () => {
    const inv = INV.replace('vars: { serviceIp: 10.10.10.1 }', 'vars: { serviceIp: 10.10.10.1, parkDir: /opt/kubernetes/manifests-multi }');
    expect(problems(inv, SHIPPED)).toEqual([expect.stringMatching(/^vars\.parkDir: parkDir \/opt\/kubernetes\/manifests-multi is the same directory as manifestsDir \/opt\/kubernetes\/manifests-multi on hosts m1, m2, m3, f1, mgr \(parkDir from vars\.parkDir, manifestsDir is the default\): .* \(.*inv\.yaml:1\)$/)]);
    const inv2 = INV.replace('  m2: { address: 10.9.0.2 }', '  m2:\n    address: 10.9.0.2\n    vars: { manifestsDir: /srv/kubernetes/manifests }');
    expect(problems(inv2, SHIPPED)).toEqual([expect.stringMatching(new RegExp(`^hosts\\.m2\\.vars\\.manifestsDir: manifestsDir /srv/kubernetes/manifests is inside certDir /srv/kubernetes on host m2 \\(manifestsDir from hosts\\.m2\\.vars\\.manifestsDir, certDir is the default\\).*inv\\.yaml:${lineOf(inv2, 'manifestsDir')}\\)`))]);
  });

  it('no etcd hosts while the playbook restarts etcd: named at the groups.etcd line', () => {
    const inv = INV.replace('  etcd: [m1, m2, m3]', '  etcd: []');
    expect(problems(inv, SHIPPED)).toEqual([expect.stringMatching(new RegExp(`^groups\\.etcd: the playbook restarts etcd but the inventory has no etcd hosts .*inv\\.yaml:${lineOf(inv, 'etcd: []')}\\)`))]);
  });

  it('after these checks, rendering every templated argv for every targeted host cannot throw', () => {
    const inv = parseInventory(INV, 'inv.yaml', { home: '/h' });
    const pb = parsePlaybook(SHIPPED, 'pb.yaml');
    expect(checkAgainstInventory(inv, pb)).toEqual([]);
    for (const h of etcdctlHosts(inv, pb)) expect(renderArgv(pb.etcdctl, hostScope(inv, pb, h))).toContain('/srv/kubernetes/etcd.pem');
    for (const step of pb.steps) {
      const argvs = step.type === 'rolling-restart' ? [step.containerCheck, step.apiserverCheck ?? []] : step.type === 'restart-flannel' ? [step.command] : [];
      for (const h of stepHosts(inv, step)) for (const a of argvs) expect(() => renderArgv(a, hostScope(inv, pb, h))).not.toThrow();
    }
  });
});
