// Where things live, enforced: each layer of src/ imports only the layers below it, and nothing
// imports in a circle (type-only imports count: they couple the code as much as any other).
//   client → cli → {lib, deps, infra, workflows (types only)}
//   worker → activities → {deps, infra, lib}
//   workflows → lib (+ activity types);  deps → {infra, lib};  infra → lib
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { importsOf } from '../helpers/imports';

const root = path.resolve(__dirname, '..', '..', '..');

type Layer = 'client' | 'cli' | 'worker' | 'activities' | 'workflows' | 'deps' | 'infra' | 'lib';

/** What each layer may import: any import, or type-only imports. */
const ALLOWED: Record<Layer, { any: Layer[]; types?: Layer[] }> = {
  client: { any: ['cli', 'deps', 'lib'] },
  cli: { any: ['cli', 'lib', 'deps', 'infra'], types: ['workflows'] },
  worker: { any: ['worker', 'activities', 'deps', 'infra', 'lib'] },
  activities: { any: ['activities', 'deps', 'infra', 'lib'] },
  workflows: { any: ['workflows', 'lib'], types: ['activities'] },
  deps: { any: ['deps', 'infra', 'lib'] },
  infra: { any: ['infra', 'lib'] },
  lib: { any: ['lib'] },
};

function layerOf(srcDir: string, file: string): Layer {
  const rel = path.relative(srcDir, file);
  const [top] = rel.split(path.sep);
  if (rel === 'client.ts') return 'client';
  if (rel === 'worker.ts' || rel === 'worker-options.ts') return 'worker';
  if (top === 'cli' || top === 'activities' || top === 'workflows' || top === 'infra' || top === 'lib') return top;
  return 'deps'; // deps.ts, load-environment.ts, connection.ts
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Imports against the allowed directions, and import cycles, of the tree under `srcDir`. */
export function layerViolations(srcDir: string): { edges: string[]; cycles: string[] } {
  const rel = (f: string) => path.relative(srcDir, f);
  const files = sources(srcDir);
  const graph = new Map<string, string[]>();
  const edges: string[] = [];
  for (const file of files) {
    const from = layerOf(srcDir, file);
    const targets: string[] = [];
    for (const i of importsOf(file)) {
      if (!i.target?.endsWith('.ts')) continue;
      targets.push(i.target);
      const to = layerOf(srcDir, i.target);
      const ok = ALLOWED[from].any.includes(to) || (i.typeOnly && ALLOWED[from].types?.includes(to));
      if (!ok) edges.push(`${rel(file)} (${from}) imports ${rel(i.target)} (${to})${i.typeOnly ? ' for types' : ''}`);
    }
    graph.set(file, targets);
  }
  // Depth-first search: an edge back to a module on the current path closes a cycle.
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 'open') cycles.push([...stack.slice(stack.indexOf(t)), t].map(rel).join(' → '));
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return { edges, cycles };
}

describe('the import graph of src/', () => {
  it('every import goes in an allowed direction, and there are no cycles', () => {
    assert.deepEqual(layerViolations(path.join(root, 'src')), { edges: [], cycles: [] });
  });

  it('the check itself reports a back-edge, a value import where types only are allowed, and a cycle', () => {
    // A small tree: infra → activities (back-edge), workflows → activities (value), lib/a ↔ lib/b.
    const found = layerViolations(path.join(root, 'test', 'fixtures', 'bad-layers', 'src'));
    assert.deepEqual(found.edges.sort(), [
      'infra/client.ts (infra) imports activities/steps.ts (activities)',
      'workflows/restore.ts (workflows) imports activities/steps.ts (activities)',
    ]);
    assert.deepEqual(found.cycles, ['lib/a.ts → lib/b.ts → lib/a.ts']);
  });
});
