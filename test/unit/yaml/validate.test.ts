// The validation rules: each accepts what it should, refuses the rest with a located message saying what is expected.
import { describe, expect, test } from 'vitest';
import { formatInputIssue, InputError } from '../../../src/errors.js';
import { parseYaml } from '../../../src/yaml/located.js';
import {
  absPath,
  bool,
  editDistance,
  expandTilde,
  hostAddress,
  hostname,
  int,
  INVALID,
  ip,
  isHostname,
  listOf,
  mapOf,
  object,
  oneOf,
  optional,
  parseAndValidate,
  sanName,
  str,
  suggest,
  validate,
  withDefault,
  type Rule,
} from '../../../src/yaml/validate.js';

/** Validates `v: <yaml>` with a rule; returns the value or the formatted messages. */
function check<T>(rule: Rule<T>, yaml: string): T | string[] {
  const { doc, issues } = parseYaml(`v: ${yaml}\n`, 'f.yaml');
  expect(issues).toEqual([]);
  const { value, issues: found } = validate(doc!, object({ v: rule }));
  return value === INVALID ? found.map(formatInputIssue) : (value as { v: T }).v;
}

describe('scalar rules', () => {
  test('int: range, quoted digits accepted, others refused', () => {
    expect(check(int(1, 65535), '22')).toBe(22);
    expect(check(int(1, 65535), '"2222"')).toBe(2222);
    expect(check(int(1, 65535), '"22a"')).toEqual(['v: expected an integer 1-65535, got "22a" (f.yaml:1:4)']);
    expect(check(int(1, 65535), '65536')).toEqual(['v: expected an integer 1-65535, got 65536 (f.yaml:1:4)']);
    expect(check(int(1, 10), '2.5')).toEqual(['v: expected an integer 1-10, got 2.5 (f.yaml:1:4)']);
    expect(check(int(1, 10), '[1]')).toEqual(['v: expected an integer 1-10, got a list (f.yaml:1:4)']);
  });

  test('bool: only true/false (YAML 1.2: yes is a string)', () => {
    expect(check(bool(), 'false')).toBe(false);
    expect(check(bool(), 'yes')).toEqual(['v: expected true or false, got "yes" (f.yaml:1:4)']);
  });

  test('str: non-empty, no newline, pattern', () => {
    expect(check(str(), 'abc')).toBe('abc');
    expect(check(str(), '""')).toEqual(['v: expected a non-empty string, got "" (f.yaml:1:4)']);
    expect(check(str(), '"a\\nb"')).toEqual(['v: expected a non-empty string, got "a\\nb" (f.yaml:1:4)']);
    expect(check(str({ pattern: /^[a-z]+$/, expected: 'lower-case letters' }), 'aB')).toEqual([
      'v: expected lower-case letters, got "aB" (f.yaml:1:4)',
    ]);
  });

  test('oneOf with did-you-mean', () => {
    expect(check(oneOf(['serial', 'parallel']), 'parallel')).toBe('parallel');
    expect(check(oneOf(['serial', 'parallel']), 'paralel')).toEqual([
      'v: expected one of "serial", "parallel", got "paralel" (did you mean "parallel"?) (f.yaml:1:4)',
    ]);
  });

  test('ip, hostname, hostAddress, sanName', () => {
    expect(check(ip(), '10.0.0.1')).toBe('10.0.0.1');
    expect(check(ip(), '"fe80::1"')).toBe('fe80::1');
    expect(check(ip(), '10.0.0.256')).toEqual(['v: expected an IPv4 or IPv6 address, got "10.0.0.256" (f.yaml:1:4)']);
    expect(check(hostname(), 'node-1.example.com')).toBe('node-1.example.com');
    expect(check(hostname(), 'node_1')).toEqual([`v: expected a hostname (letters, digits, '-' and '.'), got "node_1" (f.yaml:1:4)`]);
    expect(check(hostAddress(), 'jiujiu-tdh-10')).toBe('jiujiu-tdh-10');
    expect(check(hostAddress(), '1.2.3')).toEqual(['v: expected an IP address or a hostname, got "1.2.3" (f.yaml:1:4)']);
    expect(check(sanName(), '"*.example.com"')).toBe('*.example.com');
    expect(check(sanName(), '"*"')).toEqual(['v: expected an IP address or a DNS name, got "*" (f.yaml:1:4)']);
  });

  test('isHostname edge cases', () => {
    expect(isHostname('a')).toBe(true);
    expect(isHostname('example.com.')).toBe(true);
    expect(isHostname('-a')).toBe(false);
    expect(isHostname('a-')).toBe(false);
    expect(isHostname('a..b')).toBe(false);
    expect(isHostname('x'.repeat(64))).toBe(false);
    expect(isHostname('300.1.2.3')).toBe(false);
    expect(isHostname('a b')).toBe(false);
    expect(isHostname('a$(id)')).toBe(false);
  });
});

describe('absPath', () => {
  test('absolute, trailing slash removed, conservative charset', () => {
    expect(check(absPath(), '/srv/kubernetes/')).toBe('/srv/kubernetes');
    expect(check(absPath(), '/a/b-c_d.e+f@g%h=i,j:k')).toBe('/a/b-c_d.e+f@g%h=i,j:k');
    expect(check(absPath(), '/')).toEqual(['v: expected an absolute path below /, got "/" (f.yaml:1:4)']);
    expect(check(absPath(), 'rel/x')).toEqual(['v: expected an absolute path, got relative path "rel/x" (f.yaml:1:4)']);
    expect(check(absPath(), '"/a b"')).toEqual([
      'v: expected an absolute path made of letters, digits and . _ + @ % = , : - /, got "/a b" (f.yaml:1:4)',
    ]);
    expect(check(absPath(), '"/a/`id`"')).toHaveLength(1);
    expect(check(absPath(), '/a/./b')).toEqual(['v: expected an absolute path without . or .. segments, got "/a/./b" (f.yaml:1:4)']);
    expect(check(absPath(), '/a/*.pem')).toHaveLength(1);
  });

  test('globs and ~ only when allowed', () => {
    expect(check(absPath({ glob: true }), '/etc/kubernetes/pki/**/*.crt')).toBe('/etc/kubernetes/pki/**/*.crt');
    expect(check(absPath({ glob: true }), '/a/[ab]?.pem')).toBe('/a/[ab]?.pem');
    expect(check(absPath({ tilde: true }), '~/.ssh/id')).toBe('~/.ssh/id');
    expect(check(absPath({ tilde: true }), '"~"')).toBe('~');
    expect(check(absPath(), '~/.ssh/id')).toEqual(['v: expected an absolute path, got relative path "~/.ssh/id" (f.yaml:1:4)']);
    expect(check(absPath({ tilde: true }), '/a/~b')).toHaveLength(1);
  });

  test('expandTilde', () => {
    expect(expandTilde('~/.ssh/known_hosts', '/root')).toBe('/root/.ssh/known_hosts');
    expect(expandTilde('~', '/home/u/')).toBe('/home/u/');
    expect(expandTilde('/abs', '/root')).toBe('/abs');
  });
});

describe('collections', () => {
  test('listOf checks every item and reports all, with indexes', () => {
    expect(check(listOf(int(1, 9)), '[1, 2]')).toEqual([1, 2]);
    expect(check(listOf(int(1, 9)), '[0, 2, 10]')).toEqual([
      'v[0]: expected an integer 1-9, got 0 (f.yaml:1:5)',
      'v[2]: expected an integer 1-9, got 10 (f.yaml:1:11)',
    ]);
    expect(check(listOf(str(), { minItems: 1, itemName: 'host' }), '[]')).toEqual([
      'v: expected at least 1 host, got an empty list (f.yaml:1:4)',
    ]);
    expect(check(listOf(str(), { unique: true }), '[a, b, a]')).toEqual(['v[2]: "a" is listed twice (also at v[0]) (f.yaml:1:11)']);
    expect(check(listOf(str()), '{a: 1}')).toEqual(['v: expected a list, got a mapping (f.yaml:1:4)']);
  });

  test('mapOf keeps order and checks keys', () => {
    const r = check(mapOf(int(0, 9)), '{b: 1, a: 2}');
    expect(r instanceof Map ? [...r.entries()] : r).toEqual([['b', 1], ['a', 2]]);
    expect(
      check(mapOf(int(0, 9), { key: (k) => (k.startsWith('x') ? undefined : 'keys start with x') }), '{xa: 1, b: 22}'),
    ).toEqual(['v.b: keys start with x (f.yaml:1:12)', 'v.b: expected an integer 0-9, got 22 (f.yaml:1:15)']);
  });

  test('object: unknown keys with did-you-mean, missing required fields, optional and defaults', () => {
    const rule = object({ address: str(), port: withDefault(int(1, 65535), 22), note: optional(str()) });
    expect(check(rule, '{address: x}')).toEqual({ address: 'x', port: 22 });
    expect(check(rule, '{address: x, port: ~, note: hi}')).toEqual({ address: 'x', port: 22, note: 'hi' });
    expect(check(rule, '{adress: x, prot: 2}')).toEqual([
      'v.adress: unknown key "adress" (did you mean "address"?); expected one of: address, port, note (f.yaml:1:5)',
      'v.prot: unknown key "prot" (did you mean "port"?); expected one of: address, port, note (f.yaml:1:16)',
      'v: missing required field "address" (f.yaml:1:1)',
    ]);
    expect(check(rule, '[1]')).toEqual(['v: expected a mapping, got a list (f.yaml:1:4)']);
  });
});

describe('did you mean', () => {
  test('edit distance and suggestions', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('prot', 'port')).toBe(1);
    expect(suggest('certdir', ['certDir', 'parkDir'])).toBe('certDir');
    expect(suggest('etcdPort', ['etcdClientPort', 'certDir'])).toBe('etcdClientPort');
    expect(suggest('description', ['ip', 'ssh', 'vars'])).toBeUndefined();
    expect(suggest('zzz', ['address'])).toBeUndefined();
  });
});

describe('parseAndValidate', () => {
  const rule = object({ name: str(), steps: listOf(object({ type: oneOf(['backup', 'verify']) }), { minItems: 1, itemName: 'step' }) });

  test('returns the value and the located document', () => {
    const { value, doc } = parseAndValidate('name: x\nsteps:\n  - type: backup\n', 'p.yaml', rule, 'Invalid playbook:');
    expect(value).toEqual({ name: 'x', steps: [{ type: 'backup' }] });
    expect(doc.at(['steps', 0, 'type'])).toEqual({ line: 3, column: 11 });
  });

  test('throws one InputError with duplicate keys and rule issues, sorted by line', () => {
    const text = 'steps:\n  - type: bakup\n  - { type: verify, type: verify }\nname: 3\n';
    let err: unknown;
    try {
      parseAndValidate(text, 'p.yaml', rule, 'Invalid playbook:');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(
      [
        'Invalid playbook:',
        '  steps[0].type: expected one of "backup", "verify", got "bakup" (did you mean "backup"?) (p.yaml:2:11)',
        '  steps[1].type: duplicate key "type": already defined at line 3; keep only one (p.yaml:3:21)',
        '  name: expected a non-empty string, got 3 (p.yaml:4:7)',
      ].join('\n'),
    );
  });

  test('a syntax error is thrown alone', () => {
    expect(() => parseAndValidate('a: [\n', 'p.yaml', rule, 'Invalid playbook:')).toThrow(/^Invalid playbook:\n  YAML syntax error: .* \(p\.yaml:2:1\)$/);
  });
});
