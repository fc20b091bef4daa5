// The Ansible inventory reader against Ansible itself: every case of test/fixtures/corpus-ansible (real inventories with
// `ansible-inventory --list` output): same hosts, groups, children and merged host variables, or the same refusal.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AnsibleParseError, listView, parseAnsibleInventory } from '../../../src/inventory/ansible.js';

const corpus = join(__dirname, '../../fixtures/corpus-ansible');
const cases = readdirSync(corpus).filter((d) => /^\d\d-/.test(d));
const tally = { agree: 0, disagree: [] as string[] };

/** Group entries with children sorted (Ansible lists them in an order of its own), hosts kept in order. */
function normalise(list: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(list)) {
    if (k === '_meta') continue;
    const e = { ...(v as Record<string, unknown>) };
    if (Array.isArray(e.children)) e.children = [...(e.children as string[])].sort();
    out[k] = e;
  }
  return out;
}

describe('Ansible inventory corpus (ansible-inventory 2.14 --list)', () => {
  for (const c of cases) {
    const dir = join(corpus, c);
    const source = readFileSync(join(dir, 'SOURCE'), 'utf8');
    const file = /^inventory: (.+)$/m.exec(source)![1]!.trim();
    const expectError = /^expect: error$/m.test(source);
    it(`${c} (${file})`, () => {
      if (expectError) {
        const want = readFileSync(join(dir, 'expected-error.txt'), 'utf8');
        let err: unknown;
        try {
          parseAnsibleInventory(join(dir, file), file);
        } catch (e) {
          err = e;
        }
        expect(err, c).toBeInstanceOf(AnsibleParseError);
        const issue = (err as AnsibleParseError).issues[0]!;
        // Same file and line as Ansible's message.
        const m = /(\S+?):(\d+): (.*)$/m.exec(want) ?? /in '([^']+)': line (\d+)/.exec(want);
        expect(m, want).not.toBeNull();
        expect(`${issue.file}:${issue.line}`).toBe(`${m![1]}:${m![2]}`);
        tally.agree++;
        return;
      }
      const want = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, unknown>;
      const got = listView(parseAnsibleInventory(join(dir, file), file));
      const wantVars = (want._meta as { hostvars: Record<string, unknown> }).hostvars;
      const gotVars = (got._meta as { hostvars: Record<string, unknown> }).hostvars;
      const hosts = [...new Set([...Object.keys(wantVars), ...Object.keys(gotVars)])];
      tally.disagree.push(c); // taken back below when every comparison passed
      expect(normalise(got), c).toEqual(normalise(want));
      for (const h of hosts) expect(gotVars[h] ?? {}, `${c} ${h}`).toEqual(wantVars[h] ?? {});
      tally.disagree.pop();
      tally.agree++;
    });
  }
  afterAll(() => {
    console.log(`ansible corpus: ${cases.length} cases, ${tally.agree} agree with ansible-inventory, ${tally.disagree.length} disagree ${tally.disagree.join(' ')}`);
  });
});
