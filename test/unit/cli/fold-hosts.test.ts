// Host lists that stay readable at fleet size: ranges, counts, the first few and a count; --wide gives every name.
import { describe, expect, it } from 'vitest';
import { foldHosts, hostRanges } from '../../../src/render/text.js';

const xs = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `tos-x${i + from}`);

describe('hostRanges', () => {
  it('joins runs of three or more names counting up by one, in the given order', () => {
    expect(hostRanges(['tos-2', 'tos-3', 'tos-4', 'tos-5']).map((r) => r.text)).toEqual(['tos-2–5']);
    expect(hostRanges(xs(200)).map((r) => r.text)).toEqual(['tos-x1–x200']);
    expect(hostRanges(['tos-2', 'tos-3', 'tos-1']).map((r) => r.text)).toEqual(['tos-2', 'tos-3', 'tos-1']);
    expect(hostRanges(['a', 'node-01', 'node-02', 'node-03']).map((r) => r.text)).toEqual(['a', 'node-01', 'node-02', 'node-03']);
    expect(hostRanges(['web9', 'web10', 'web11']).map((r) => r.text)).toEqual(['web9–web11']);
  });
});

describe('foldHosts', () => {
  it('says "all N" when every host of many is listed', () => expect(foldHosts(xs(205), { total: 205 })).toBe('all 205'));
  it('counts and ranges a long list', () => expect(foldHosts(xs(200), { total: 205 })).toBe('200 of 205: tos-x1–x200'));
  it('keeps a short list as names', () => {
    expect(foldHosts(['tos-1', 'tos-2'], { total: 5 })).toBe('tos-1, tos-2');
    expect(foldHosts(['tos-2', 'tos-3', 'tos-4', 'tos-5'])).toBe('tos-2–5');
  });
  it('shows the first few and a count when even the ranges are too long', () => {
    const odd = xs(205).filter((_, i) => i % 2 === 0);
    const text = foldHosts(odd, { total: 205 });
    expect(text).toMatch(/^103 of 205: tos-x1, tos-x3, .*, … \+\d+ more$/);
    expect(text.length).toBeLessThan(100);
  });
  it('lists every name with wide', () => expect(foldHosts(xs(5), { total: 5, wide: true })).toBe('tos-x1, tos-x2, tos-x3, tos-x4, tos-x5'));
});
