// The located YAML parser: values, line/column of any path, duplicate keys with both lines, syntax errors with their position.
import { describe, expect, test } from 'vitest';
import { formatPath, parseYaml } from '../../../src/yaml/located.js';

const text = `# a comment
top:
  name: "quoted"
  list:
    - a
    - { k: 'v' }
  empty:
  ref:
    deep: 1
  again:
    deep: 2
"a.b": 2
`;

describe('parseYaml', () => {
  const { doc, issues } = parseYaml(text, 'f.yaml');

  test('gives plain values', () => {
    expect(issues).toEqual([]);
    expect(doc!.value).toEqual({
      top: { name: 'quoted', list: ['a', { k: 'v' }], empty: null, ref: { deep: 1 }, again: { deep: 2 } },
      'a.b': 2,
    });
  });

  test('locates values (quoted scalars at their opening quote) and keys', () => {
    expect(doc!.at(['top', 'name'])).toEqual({ line: 3, column: 9 });
    expect(doc!.keyAt(['top', 'name'])).toEqual({ line: 3, column: 3 });
    expect(doc!.at(['top', 'list'])).toEqual({ line: 5, column: 5 });
    expect(doc!.at(['top', 'list', 0])).toEqual({ line: 5, column: 7 });
    expect(doc!.at(['top', 'list', 1, 'k'])).toEqual({ line: 6, column: 12 });
    expect(doc!.at(['a.b'])).toEqual({ line: 12, column: 8 });
  });

  test('an empty value is located at its key', () => {
    expect(doc!.at(['top', 'empty'])).toEqual({ line: 7, column: 3 });
    expect(doc!.at(['top', 'ref', 'deep'])).toEqual({ line: 9, column: 11 });
  });

  test('refuses aliases, which nothing here needs and which can expand exponentially', () => {
    const bomb = 'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n';
    const r = parseYaml(bomb, 'bomb.yaml');
    expect(r.doc).toBeUndefined();
    expect(r.issues).toEqual([{ file: 'bomb.yaml', line: 2, column: 8, path: '', message: 'YAML aliases (*name) are not supported here: write the value out' }]);
  });

  test('an unknown path falls back to its nearest located ancestor', () => {
    expect(doc!.at(['top', 'name', 'nothing', 3])).toEqual({ line: 3, column: 9 });
    expect(doc!.keyAt(['top', 'missing'])).toEqual({ line: 3, column: 3 });
  });

  test('issue() builds a located InputIssue', () => {
    expect(doc!.issue(['top', 'list', 1, 'k'], 'bad')).toEqual({ file: 'f.yaml', line: 6, column: 12, path: 'top.list[1].k', message: 'bad' });
    expect(doc!.issue(['top', 'name'], 'bad key', true)).toMatchObject({ line: 3, column: 3 });
  });

  test('reports every duplicate key, at any depth, with both lines; the later value wins', () => {
    const r = parseYaml('a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\na: 4\n', 'd.yaml');
    expect(r.issues).toEqual([
      { file: 'd.yaml', line: 5, column: 3, path: 'b.x', message: 'duplicate key "x": already defined at line 3; keep only one' },
      { file: 'd.yaml', line: 6, column: 1, path: 'a', message: 'duplicate key "a": already defined at line 1; keep only one' },
    ]);
    expect(r.doc!.value).toEqual({ a: 4, b: { x: 3, y: 2 } });
    expect(r.doc!.at(['a'])).toEqual({ line: 6, column: 4 });
  });

  test('duplicate keys in flow mappings too', () => {
    const r = parseYaml('m: { k: 1, k: 2 }\n', 'd.yaml');
    expect(r.issues.map((i) => [i.path, i.line, i.column])).toEqual([['m.k', 1, 12]]);
  });

  test('a syntax error is an issue with 1-based line and column and no document', () => {
    const r = parseYaml('a:\n  - x\n y: 2\n', 's.yaml');
    expect(r.doc).toBeUndefined();
    expect(r.issues).toEqual([
      { file: 's.yaml', line: 3, column: 2, path: '', message: 'YAML syntax error: bad indentation of a mapping entry' },
    ]);
  });

  test('an unknown tag is reported as a located YAML error', () => {
    const r = parseYaml('a: 1\nb: !!binary abc\n', 't.yaml');
    expect(r.doc).toBeUndefined();
    expect(r.issues).toMatchObject([{ file: 't.yaml', line: 2, path: '' }]);
    expect(r.issues[0]!.message).toMatch(/^YAML syntax error: unknown scalar tag/);
  });

  test('an empty text is a null document; a second document is an issue', () => {
    expect(parseYaml('# nothing\n', 'e.yaml')).toMatchObject({ issues: [], doc: { value: null } });
    const r = parseYaml('a: 1\n---\nb: 2\n', 'm.yaml');
    expect(r.issues).toEqual([
      { file: 'm.yaml', line: 3, column: 1, path: '', message: 'expected a single YAML document, found a second one (remove the extra `---`)' },
    ]);
    expect(r.doc!.value).toEqual({ a: 1 });
  });
});

test('formatPath: dotted keys, [index], quoted odd keys', () => {
  expect(formatPath(['hosts', 'tos-2', 'port'])).toBe('hosts.tos-2.port');
  expect(formatPath(['groups', 'master', 1])).toBe('groups.master[1]');
  expect(formatPath(['hosts', 'a.example.com', 'address'])).toBe('hosts["a.example.com"].address');
  expect(formatPath([])).toBe('');
  expect(formatPath([0, 'x'])).toBe('[0].x');
});
