// --limit selection: names, groups, globs, `!` exclusion, `&` intersection, as in Ansible; typos are errors, not silent no-ops.
import { describe, expect, test } from 'vitest';
import { formatInputIssue, InputError } from '../../../src/errors.js';
import { firstOf, hostByName, hostsOf, selectHosts } from '../../../src/inventory/limit.js';
import { parseInventory } from '../../../src/inventory/load.js';

const inv = parseInventory(
  `hosts:
  tos-1: { address: 10.0.0.1 }
  tos-2: { address: 10.0.0.2 }
  tos-3: { address: 10.0.0.3 }
  tos-10: { address: 10.0.0.10 }
  mgr.lab: { address: 10.0.0.20 }
groups:
  master: [tos-2, tos-1, tos-3]
  flannel: [tos-10, tos-1]
  manager: [mgr.lab]
  edge: [tos-10]
`,
  'limit.yaml',
  { home: '/home/t' },
);
const names = (pattern?: string) => selectHosts(inv, pattern).map((h) => h.name);
const all = ['tos-1', 'tos-2', 'tos-3', 'tos-10', 'mgr.lab'];

function limitError(pattern: string): string[] {
  try {
    selectHosts(inv, pattern);
  } catch (e) {
    if (e instanceof InputError) return e.issues.map(formatInputIssue);
    throw e;
  }
  throw new Error(`pattern ${pattern} did not fail`);
}

describe('selectHosts', () => {
  test('no pattern, all and * select every host in inventory order', () => {
    expect(names()).toEqual(all);
    expect(names('all')).toEqual(all);
    expect(names('*')).toEqual(all);
  });

  test('an empty or blank pattern, or one of separators only, is refused: a limit never widens the run', () => {
    for (const p of ['', '   ', ',', ' : , '])
      expect(limitError(p)[0]).toMatch(/names no host or group \(leave --limit out to select every host\)/);
  });

  test('a host name, a group name (result in inventory order, not group order)', () => {
    expect(names('tos-3')).toEqual(['tos-3']);
    expect(names('master')).toEqual(['tos-1', 'tos-2', 'tos-3']);
    expect(names('mgr.lab')).toEqual(['mgr.lab']);
  });

  test('comma and colon both separate a union', () => {
    expect(names('tos-3,manager')).toEqual(['tos-3', 'mgr.lab']);
    expect(names('tos-3:manager')).toEqual(['tos-3', 'mgr.lab']);
    expect(names('edge, tos-2')).toEqual(['tos-2', 'tos-10']);
  });

  test('globs * and ? match host names and group names', () => {
    expect(names('tos-?')).toEqual(['tos-1', 'tos-2', 'tos-3']);
    expect(names('tos-1*')).toEqual(['tos-1', 'tos-10']);
    expect(names('man*')).toEqual(['mgr.lab']); // the manager group
    expect(names('mgr.*')).toEqual(['mgr.lab']); // '.' is literal
  });

  test('! excludes, after the union; alone it starts from all', () => {
    expect(names('master:!tos-2')).toEqual(['tos-1', 'tos-3']);
    expect(names('!tos-2,master')).toEqual(['tos-1', 'tos-3']);
    expect(names('!master')).toEqual(['tos-10', 'mgr.lab']);
    expect(names('all:!flannel:!manager')).toEqual(['tos-2', 'tos-3']);
  });

  test('& intersects, before exclusions', () => {
    expect(names('master:&flannel')).toEqual(['tos-1']);
    expect(names('tos-*:&flannel')).toEqual(['tos-1', 'tos-10']);
    expect(names('&flannel,!edge')).toEqual(['tos-1']);
  });

  test('a term that matches nothing is an error, with "did you mean" (a typo in !x must not widen the run)', () => {
    expect(limitError('mastr,!tos-22')).toEqual([
      '--limit: "mastr" matches no host or group (did you mean "master"?) (limit.yaml)'.replace('limit.yaml', inv.file),
      `--limit: "tos-22" matches no host or group (did you mean "tos-2"?) (${inv.file})`,
    ]);
    expect(limitError('db-*')).toEqual([`--limit: "db-*" matches no host or group (${inv.file})`]);
  });

  test('a pattern that selects no host is an error', () => {
    expect(limitError('master:!tos-?')).toEqual([`--limit: "master:!tos-?" selects no hosts (${inv.file})`]);
    expect(limitError('edge:&manager')).toEqual([`--limit: "edge:&manager" selects no hosts (${inv.file})`]);
  });

  test('characters that are not names or globs are refused', () => {
    expect(limitError('tos-1;reboot')).toEqual([
      `--limit: bad term "tos-1;reboot": expected a host name, group name or glob (* ?), optionally after ! or & (${inv.file})`,
    ]);
    expect(limitError('!')).toEqual([
      `--limit: bad term "!": expected a host name, group name or glob (* ?), optionally after ! or & (${inv.file})`,
    ]);
  });
});

describe('group helpers', () => {
  test('hostsOf keeps the group order; firstOf is the first listed', () => {
    expect(hostsOf(inv, 'master').map((h) => h.name)).toEqual(['tos-2', 'tos-1', 'tos-3']);
    expect(firstOf(inv, 'master')?.name).toBe('tos-2');
    expect(inv.firstMaster).toBe('tos-2');
    expect(hostsOf(inv, 'etcd').map((h) => h.name)).toEqual(['tos-2', 'tos-1', 'tos-3']);
  });

  test('standard groups always exist; an unknown group is a caller bug', () => {
    const minimal = parseInventory('hosts: { a: { address: 10.0.0.1 } }\ngroups: { master: [a] }\n', 'm.yaml');
    expect(hostsOf(minimal, 'manager')).toEqual([]);
    expect(firstOf(minimal, 'flannel')).toBeUndefined();
    expect(firstOf(minimal, 'nope')).toBeUndefined();
    expect(() => hostsOf(minimal, 'nope')).toThrow('has no group "nope"');
    expect(hostByName(minimal, 'a').address).toBe('10.0.0.1');
  });
});
