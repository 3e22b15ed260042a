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

/** The field and message of a validation issue; in a union, the branch whose type matched names the real problem. */
export function firstIssue(issue: z.core.$ZodIssue, prefix: PropertyKey[] = []): { field: string; message: string } {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'invalid_union') {
    // The branch the input meant: of the right type, and (for objects) with no key it does not know.
    const unknownKey = (errs: z.core.$ZodIssue[]) => errs.some((e) => e.code === 'unrecognized_keys' && e.path.length === 0);
    const typed = issue.errors.filter((errs) => errs[0] && !(errs[0].code === 'invalid_type' && errs[0].path.length === 0));
    const branch = typed.find((errs) => !unknownKey(errs)) ?? (typed.length > 1 && typed.every(unknownKey) ? undefined : typed[0]);
    if (branch) return firstIssue(branch[0]!, path);
  }
  const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
  return { field: path.length ? path.join('.') : '(top level)', message: `${issue.message}${keys}` };
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
