// The import rule of docs/architecture.md: every import in src/ goes to the same layer or a lower one, and nothing imports
// itself back, neither a file nor a folder. A new folder or root file must be given its layer here (and in the doc).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const DOC = fileURLToPath(new URL('../../docs/architecture.md', import.meta.url));

/** The layers, lowest first: a module may import from its own layer and the ones before it. */
export const LAYERS: ReadonlyArray<{ name: string; modules: string[] }> = [
  { name: 'base', modules: ['errors.ts', 'secret.ts', 'lazy.ts', 'failpoint.ts', 'hash.ts', 'host-paths.ts', 'file-record.ts', 'render'] },
  { name: 'input', modules: ['yaml'] },
  { name: 'leaves', modules: ['inventory', 'pki', 'journal'] },
  { name: 'transport', modules: ['ssh'] },
  { name: 'playbook', modules: ['playbook'] },
  { name: 'manager', modules: ['manager'] },
  { name: 'facts', modules: ['facts'] },
  { name: 'plan', modules: ['plan'] },
  { name: 'steps', modules: ['steps'] },
  { name: 'planner', modules: ['planner'] },
  { name: 'apply', modules: ['apply'] },
  { name: 'use-cases', modules: ['check', 'rollback', 'status', 'run'] },
  { name: 'cli', modules: ['cli'] },
];

/** A file's module: its folder under src/, or the file itself for a file directly in src/. */
export function moduleOf(file: string): string {
  return file.includes('/') ? file.split('/')[0]! : file;
}

export interface Edge {
  from: string;
  to: string;
}

/** Every relative import of every .ts file under src/ (import/export … from, import('…') types), as src-relative paths. */
export function importsOf(root: string): Edge[] {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  };
  walk(root);
  const edges: Edge[] = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/(?:^\s*(?:import|export)\s[^;]*?\sfrom\s*|\bimport\(\s*)'(\.{1,2}\/[^']+)'/gm)) {
      const target = resolve(dirname(f), m[1]!).replace(/\.js$/, '.ts');
      edges.push({ from: relative(root, f), to: relative(root, target) });
    }
  }
  return edges;
}

/** Cycles among the nodes of a graph (strongly connected components of more than one node, or a node importing itself). */
export function cycles(edges: Array<[string, string]>): string[][] {
  const adj = new Map<string, Set<string>>();
  for (const [a, b] of edges) {
    if (!adj.has(a)) adj.set(a, new Set());
    if (!adj.has(b)) adj.set(b, new Set());
    adj.get(a)!.add(b);
  }
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of adj.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || adj.get(v)!.has(v)) out.push(scc.sort());
    }
  };
  for (const v of adj.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** Everything wrong with a set of imports: modules without a layer, imports that go up a layer, file and module loops. */
export function violations(edges: Edge[], layers = LAYERS): string[] {
  const layerOf = new Map<string, number>();
  layers.forEach((l, i) => l.modules.forEach((m) => layerOf.set(m, i)));
  const problems: string[] = [];
  const unknown = new Set<string>();
  for (const e of edges) {
    for (const f of [e.from, e.to]) if (!layerOf.has(moduleOf(f))) unknown.add(moduleOf(f));
  }
  for (const m of unknown) problems.push(`${m}: no layer (add it to LAYERS in test/unit/architecture.test.ts and to docs/architecture.md)`);
  for (const e of edges) {
    const a = layerOf.get(moduleOf(e.from));
    const b = layerOf.get(moduleOf(e.to));
    if (a !== undefined && b !== undefined && b > a) problems.push(`${e.from} imports ${e.to}: layer ${layers[a]!.name} must not import the higher layer ${layers[b]!.name}`);
  }
  for (const c of cycles(edges.map((e) => [e.from, e.to]))) problems.push(`file loop: ${c.join(' <-> ')}`);
  const moduleEdges = edges.map((e): [string, string] => [moduleOf(e.from), moduleOf(e.to)]).filter(([a, b]) => a !== b);
  for (const c of cycles(moduleEdges)) problems.push(`module loop: ${c.join(' <-> ')}`);
  return problems;
}

describe('the import rule (docs/architecture.md)', () => {
  const edges = importsOf(SRC);

  it('reads the imports of src/ (the parser finds them)', () => {
    expect(edges.length).toBeGreaterThan(300);
    expect(edges).toContainEqual({ from: 'cli/main.ts', to: 'errors.ts' });
    expect(edges).toContainEqual({ from: 'steps/rollback-read.ts', to: 'facts/types.ts' }); // an inline import('…') type
  });

  it('no layer imports a higher one, and no file or module imports itself back', () => {
    expect(violations(edges)).toEqual([]);
  });

  it('every module of src/ has a layer, and the doc names every one', () => {
    const modules = readdirSync(SRC).filter((e) => statSync(join(SRC, e)).isDirectory() || e.endsWith('.ts'));
    const placed = LAYERS.flatMap((l) => l.modules);
    expect(modules.filter((m) => !placed.includes(m))).toEqual([]);
    expect(placed.filter((m) => !modules.includes(m))).toEqual([]);
    const doc = readFileSync(DOC, 'utf8');
    expect(placed.filter((m) => !doc.includes(m.endsWith('.ts') ? m : `${m}/`))).toEqual([]);
  });

  it('the lab (lab/src) stands apart: it imports nothing from src/ or test/, and src/ nothing from it', () => {
    const lab = fileURLToPath(new URL('../../lab/src/', import.meta.url));
    expect(importsOf(lab).filter((e) => e.to.startsWith('..'))).toEqual([]);
    expect(edges.filter((e) => e.to.startsWith('..'))).toEqual([]);
  });

  it('fails on an import that goes up, on a loop, and on a module with no layer', () => {
    expect(violations([{ from: 'facts/gather.ts', to: 'steps/shared.ts' }])).toEqual([
      'facts/gather.ts imports steps/shared.ts: layer facts must not import the higher layer steps',
    ]);
    expect(violations([{ from: 'steps/backup.ts', to: 'steps/restore.ts' }, { from: 'steps/restore.ts', to: 'steps/backup.ts' }])).toEqual([
      'file loop: steps/backup.ts <-> steps/restore.ts',
    ]);
    // Two modules of one layer may import each other's files, but not in a loop.
    expect(violations([{ from: 'status/verdict.ts', to: 'rollback/plan.ts' }, { from: 'rollback/gather.ts', to: 'status/types.ts' }])).toEqual([
      'module loop: rollback <-> status',
    ]);
    expect(violations([{ from: 'cli/main.ts', to: 'wizard/x.ts' }])[0]).toMatch(/^wizard: no layer/);
  });
});
