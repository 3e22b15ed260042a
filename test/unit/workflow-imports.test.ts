// Workflows must be deterministic: no Node built-in anywhere in what src/workflows imports,
// directly or through shared modules (type-only imports are erased and allowed). Modules no
// workflow reaches (e.g. lib/sha256.ts) may use node:crypto.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { importsOf } from '../helpers/imports';

const root = path.resolve(__dirname, '..', '..', '..');
const builtins = new Set(builtinModules);

export function builtinViolations(entryDir: string): string[] {
  const seen = new Set<string>();
  const bad: string[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const i of importsOf(file)) {
      if (i.typeOnly) continue;
      if (i.target) {
        if (i.target.endsWith('.ts')) visit(i.target);
      } else if (i.spec.startsWith('node:') || builtins.has(i.spec.split('/')[0]!)) {
        bad.push(`${path.relative(root, file)} imports ${i.spec}`);
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

  it('the check itself catches a workflow that imports a built-in', () => {
    // A workflow-shaped file importing fs through a relative module must be reported.
    const dir = path.join(root, 'test', 'fixtures', 'bad-workflows');
    const found = builtinViolations(dir);
    assert.ok(found.some((v) => v.endsWith('imports node:fs')), `violations: ${found.join(', ')}`);
    assert.ok(found.some((v) => v.endsWith('imports crypto')), `violations: ${found.join(', ')}`);
    assert.ok(!found.some((v) => v.includes('node:os')), 'type-only imports are erased and must not count');
  });
});
