// The plan as text: hosts doing the same share a line, a 5-host plan fits on one screen, --verbose has every detail,
// and every message names its host once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workdir } from '../pki/fixtures.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import { buildPlan, renewalNeed } from '../../../src/planner/build.js';
import { makeMaterial } from '../../../src/plan/material.js';
import { renderPlan } from '../../../src/plan/render.js';
import { foldActions } from '../../../src/plan/describe.js';
import { palette } from '../../../src/render/text.js';
import type { Playbook } from '../../../src/playbook/types.js';
import type { Plan } from '../../../src/plan/types.js';
import { FakeFleet, inventory } from './fake-fleet.js';

const wd = new Workdir();
let pb: Playbook;
let ca: string, leaf: string;
const now = new Date();
const NAMES = ['tos-1', 'tos-2', 'tos-3', 'tos-4', 'tos-5'];
const inv = inventory(['tos-1', 'tos-2', 'tos-3'], { flannel: ['tos-4'], manager: ['tos-5'] });

beforeAll(async () => {
  pb = await loadPlaybook('playbooks/tos-etcd-renew.yaml');
  pb = { ...pb, steps: pb.steps.filter((s) => s.type !== 'manager-templates' && s.type !== 'manager-db') };
  wd.cfsslCa('ca', 'etcd-ca');
  wd.cfsslLeaf('leaf', 'ca', ['tos-1', 'tos-2', 'tos-3', '127.0.0.1', '10.96.0.1', '10.9.0.1', '10.9.0.2', '10.9.0.3'], { expiry: '480h' });
  ca = wd.read('ca.pem');
  leaf = wd.read('leaf.pem');
});
afterAll(() => wd.remove());

async function plan(fleet: FakeFleet): Promise<Plan> {
  const need = renewalNeed(inv, pb, fleet.facts, now, 90);
  const m = need.needed ? await makeMaterial({ inventory: inv, playbook: pb, oldCaPem: ca, oldLeafPem: leaf, caKeyPem: wd.secret('ca-key.pem'), now }) : null;
  return buildPlan({ inventory: inv, playbook: pb, facts: fleet.facts, material: m?.material ?? null, summary: m?.summary ?? null, findings: m?.findings ?? [], need, options: { runId: 'r1', now, renewWithinDays: 90, force: false } });
}

function fiveHosts(): FakeFleet {
  const f = new FakeFleet();
  for (const n of NAMES) f.host(n, { ca, cert: leaf }, { caKey: n === 'tos-1' });
  return f.etcd(['tos-1', 'tos-2', 'tos-3'], 'tos-1');
}

const stepLines = (text: string, title: string) => {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^  \\d+\\. ${title}\\b`).test(l));
  const end = lines.findIndex((l, i) => i > start && /^  \d+\. /.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end);
};

describe('renderPlan', () => {
  it('folds distribute: one line for the hosts staging the same files, one for the first master (swap only)', async () => {
    const p = await plan(fiveHosts());
    const text = renderPlan(p, palette(false));
    const dist = stepLines(text, 'distribute');
    expect(dist).toEqual([
      expect.stringMatching(/^ +tos-2–5: stage etcd-key\.pem, etcd\.pem, etcd-ca\.pem, each checked by sha256 \(etcd-key\.pem: private key, never shown\); replace .* by back-to-back atomic renames/),
      expect.stringMatching(/^ +tos-1: replace etcd-key\.pem \+ etcd\.pem \+ etcd-ca\.pem by back-to-back atomic renames/),
    ]);
  });

  it('fits a 5-host plan on one screen; --verbose has one line per action with sha256 and staging names', async () => {
    const p = await plan(fiveHosts());
    const text = renderPlan(p, palette(false));
    const verbose = renderPlan(p, palette(false), { verbose: true });
    // 45 lines before the cleanup step (3 lines: heading, 'always runs' note, one folded release line) ended every plan.
    expect(text.split('\n').length).toBeLessThanOrEqual(48);
    const actions = p.steps.flatMap((s) => s.actions).length;
    expect(verbose.split('\n').length).toBeGreaterThanOrEqual(actions);
    const stage = p.steps.flatMap((s) => s.actions).find((a) => a.kind === 'stage' && a.host === 'tos-3')!;
    expect(verbose).toContain(`tos-3: stage etcd-key.pem as ${stage.kind === 'stage' ? stage.staged.split('/').pop() : ''}`);
    expect(text).not.toContain('.certroll-r1');
    expect(verbose).toMatch(/serial +\S+ → \S+/);
    expect(text).not.toMatch(/serial +\S+ → \S+/);
    for (const t of [text, verbose]) expect(t).not.toContain('PRIVATE KEY');
  });

  it('keeps every host of a step in the folded view', async () => {
    const p = await plan(fiveHosts());
    for (const s of p.steps) {
      const folded = foldActions(s.actions).flatMap((g) => g.hosts);
      expect(new Set(folded)).toEqual(new Set(s.actions.map((a) => a.host)));
    }
  });

  it('names an unreachable host once in its warning', async () => {
    const f = fiveHosts().unreachable('tos-4');
    delete f.facts.hosts['tos-4'];
    const p = await plan(f);
    const text = renderPlan(p, palette(false));
    expect(text).toContain('BLOCK [unreachable] tos-4: connection refused');
    expect(text).not.toContain('tos-4: tos-4:');
  });
});
