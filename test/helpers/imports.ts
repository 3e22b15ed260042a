// The import graph of TypeScript sources, read as text (no compiler): which module imports which,
// and whether only for types (`import type`, `export type`, or every named import marked `type`),
// which the compiler erases.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface ImportEdge {
  spec: string;
  /** The file a relative spec resolves to (undefined for packages and built-ins). */
  target?: string;
  typeOnly: boolean;
}

export function importsOf(file: string): ImportEdge[] {
  const src = readFileSync(file, 'utf8');
  const edges: ImportEdge[] = [];
  for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm)) {
    const spec = m[4] ?? m[5]!;
    const names = /^\{([^}]*)\}$/.exec((m[3] ?? '').trim())?.[1];
    const allTypes = names !== undefined && names.split(',').map((n) => n.trim()).filter(Boolean).every((n) => n.startsWith('type '));
    edges.push({ spec, target: resolveLocal(file, spec), typeOnly: Boolean(m[2]) || allTypes });
  }
  for (const m of src.matchAll(/\b(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)/g)) edges.push({ spec: m[1]!, target: resolveLocal(file, m[1]!), typeOnly: false });
  return edges;
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec);
  return [`${base}.ts`, path.join(base, 'index.ts'), base].find((f) => existsSync(f) && statSync(f).isFile());
}
