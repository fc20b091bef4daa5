// quote(), quoteArgv() and sh``: every value reaches the remote command as exactly one word, checked against a local POSIX sh.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/secret.js';
import { quote, quoteArgv, raw, sh } from '../../../src/ssh/quote.js';

const hostile = ["it's", '$(id)', '`id`', '${x}', 'a;b', '*', '-rf', 'l1\nl2', 'ü ✓', '', ' ', "'", '\\', 'x=y', '~', '#', '!'];

function words(script: string): string[] {
  const out = execFileSync('sh', ['-c', `${script}; printf '\\0'`]).toString('utf8');
  return out.split('\0').slice(0, -2);
}

describe('quote', () => {
  it('leaves plain paths readable', () => {
    expect(quote('/srv/kubernetes/etcd-key.pem')).toBe('/srv/kubernetes/etcd-key.pem');
    expect(quote('127.0.0.1:4001')).toBe('127.0.0.1:4001');
  });

  it('single-quotes anything else and escapes embedded quotes', () => {
    expect(quote('')).toBe("''");
    expect(quote('a b')).toBe("'a b'");
    expect(quote("it's")).toBe("'it'\\''s'");
    expect(quote('x=y')).toBe("'x=y'");
    expect(quote('~')).toBe("'~'");
  });

  it('makes each hostile string one word for sh, byte for byte', () => {
    for (const s of hostile) {
      expect(words(`printf '%s\\0' ${quote(s)}`), JSON.stringify(s)).toEqual([s]);
    }
  });

  it('refuses NUL bytes and Secrets', () => {
    expect(() => quote('a\0b')).toThrow(/NUL/);
    expect(() => quote(new Secret('pw') as unknown as string)).toThrow(/stdin/);
    expect(() => sh`echo ${new Secret('pw') as unknown as string}`).toThrow(/stdin/);
  });

  it('quoteArgv joins quoted words', () => {
    expect(quoteArgv(['mv', '--', 'a b', 'c'])).toBe("mv -- 'a b' c");
    expect(() => quoteArgv([])).toThrow();
  });
});

describe('sh``', () => {
  it('quotes interpolations, expands arrays to several words, keeps raw() fragments', () => {
    expect(sh`mv -- ${'a b'} ${'c'}`).toBe("mv -- 'a b' c");
    expect(sh`rm -f -- ${['x y', 'z']}`).toBe("rm -f -- 'x y' z");
    expect(sh`echo ${1} ${raw('>&2')}`).toBe('echo 1 >&2');
    expect(words(sh`printf '%s\\0' ${hostile}`)).toEqual(hostile);
  });

  it('nests through raw()', () => {
    const inner = sh`cat ${"f'1"}`;
    expect(sh`sudo sh -c ${inner}`).toBe(`sudo sh -c ${quote(inner)}`);
    expect(sh`{ ${raw(inner)}; }`).toBe(`{ cat 'f'\\''1'; }`);
  });
});
