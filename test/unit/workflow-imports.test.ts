// Workflows must be deterministic: no Node built-ins anywhere in what src/workflows imports,
// directly or through shared modules (type-only imports are erased and allowed).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const builtins = new Set(builtinModules);

function runtimeImports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) {
    if (!m[2]) specs.push(m[3]!);
  }
  for (const m of src.matchAll(/\b(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  return specs;
}

function resolveLocal(from: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(from), spec);
  return [`${base}.ts`, path.join(base, 'index.ts')].find((f) => existsSync(f));
}

export function builtinViolations(entryDir: string): string[] {
  const seen = new Set<string>();
  const bad: string[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of runtimeImports(file)) {
      if (spec.startsWith('.')) {
        const local = resolveLocal(file, spec);
        if (local) visit(local);
      } else if (spec.startsWith('node:') || builtins.has(spec.split('/')[0]!)) {
        bad.push(`${path.relative(root, file)} imports ${spec}`);
      }
    }
  };
  for (const f of readdirSync(entryDir)) if (f.endsWith('.ts')) visit(path.join(entryDir, f));
  return bad;
}

describe('workflow code', () => {
  it('imports no Node built-in, directly or through shared modules', () => {
    assert.deepEqual(builtinViolations(path.join(root, 'src', 'workflows')), []);
  });

  it('nothing under src/lib imports a Node built-in, so workflows may use any of it (e.g. the config-repo model)', () => {
    assert.deepEqual(builtinViolations(path.join(root, 'src', 'lib')), []);
  });

  it('the check itself catches a workflow that imports a built-in', () => {
    // A workflow-shaped file importing fs through a relative module must be reported.
    const dir = path.join(root, 'test', 'fixtures', 'bad-workflows');
    const found = builtinViolations(dir);
    assert.ok(found.some((v) => v.endsWith('imports node:fs')), `violations: ${found.join(', ')}`);
    assert.ok(found.some((v) => v.endsWith('imports crypto')), `violations: ${found.join(', ')}`);
    assert.ok(!found.some((v) => v.includes('node:os')), 'type-only imports are erased and must not count');
  });
});
