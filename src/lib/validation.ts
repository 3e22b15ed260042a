// Reading YAML files people write (environment file, compose file): one ConfigError naming the
// file and the first bad field, never a stack of parser output. Pure, so workflows may import it.
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function parseYamlDocument(text: string, source: string, opts: { merge?: boolean } = {}): unknown {
  try {
    return parseYaml(text, opts);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` line ${err.linePos[0].line}` : '';
    throw new ConfigError(`${source}:${where} not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** The first problem of a document against a schema, or its parsed value. */
export type Checked<T> = { ok: true; data: T } | { ok: false; field: string; message: string };

/**
 * Validates a document people wrote (environment file, titan-config.yaml, compose file). Unknown
 * keys come first, named as written with the likely intended key ("did you mean"): a misspelt
 * required key would otherwise be reported as missing, naming the key the user did not write.
 */
export function checkDocument<S extends z.ZodType>(schema: S, doc: unknown): Checked<z.output<S>> {
  const result = schema.safeParse(doc, { error: unknownKeyMessage });
  if (result.success) return { ok: true, data: result.data };
  return { ok: false, ...firstIssue(result.error.issues) };
}

/** Error map: unknown keys with suggestions from the object's own keys (the raw issue still has its schema). */
function unknownKeyMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== 'unrecognized_keys') return undefined;
  const shape = (issue.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
  const known = shape ? Object.keys(shape) : [];
  const named = issue.keys.map((k) => {
    const guess = closestKey(k, known);
    return `"${k}"${guess ? ` (did you mean "${guess}"?)` : ''}`;
  });
  return `unknown key${named.length > 1 ? 's' : ''} ${named.join(', ')}`;
}

/** The known key a misspelling most likely meant: within a third of its length in edits (one for keys of 3 to 5 letters, none below). */
export function closestKey(key: string, known: string[]): string | undefined {
  const limit = key.length < 3 ? 0 : Math.max(1, Math.floor(key.length / 3));
  let best: { key: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase()) + (key === k ? 0 : key.toLowerCase() === k.toLowerCase() ? 0.5 : 0);
    if (d <= limit && (!best || d < best.d)) best = { key: k, d };
  }
  return best?.key;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours ("dataDri" → "dataDir" is 1). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

const hasUnknownKey = (i: z.core.$ZodIssue): boolean =>
  i.code === 'unrecognized_keys' || (i.code === 'invalid_union' && i.errors.some((branch) => branch.some(hasUnknownKey)));

/** The field and message of the first problem, unknown keys first; in a union, the branch whose type matched names the real problem. */
function firstIssue(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): { field: string; message: string } {
  const issue = issues.find(hasUnknownKey) ?? issues[0]!;
  const path = [...prefix, ...issue.path];
  if (issue.code === 'invalid_union') {
    // The branch the input meant: of the right type, and (for objects) with no key it does not know;
    // else the one whose unknown key is a likely misspelling of its own key ("containr"); else, when
    // several forms fit as badly, none: the union's own message lists the forms.
    const unknownKey = (errs: z.core.$ZodIssue[], guessed = false) =>
      errs.some((e) => e.code === 'unrecognized_keys' && e.path.length === 0 && (!guessed || e.message.includes('did you mean')));
    const typed = issue.errors.filter((errs) => errs[0] && !(errs[0].code === 'invalid_type' && errs[0].path.length === 0));
    const branch =
      typed.find((errs) => !unknownKey(errs)) ?? typed.find((errs) => unknownKey(errs, true)) ?? (typed.length > 1 && typed.every((errs) => unknownKey(errs)) ? undefined : typed[0]);
    if (branch) return firstIssue(branch, path);
  }
  return { field: path.length ? path.join('.') : '(top level)', message: issue.message };
}

/** Names of things in files people write: instances, projects, schedules. */
export const name = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be a lowercase name (a-z, 0-9, -)');
export const cron = z.string().regex(/^(\S+\s+){4}\S+$/, 'must be a 5-field cron expression');
export const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as 30s, 15m, 1h or 2d');

/** Milliseconds of a duration written as 30s, 15m, 1h or 2d. */
export function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(d);
  if (!m) throw new ConfigError(`"${d}" is not a duration such as 30s, 15m, 1h or 2d`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms'];
}

/** Secrets are referenced by the name of the environment variable holding them, never inlined. */
export const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name (secrets are referenced, never inlined)');
