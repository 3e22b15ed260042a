// Compose's variables: the interpolation of `$VAR` forms in compose files, and the `.env` /
// `env_file` format, both as the compose specification defines them. Pure: the caller reads files.

/** A variable's value, or undefined when it is not set. */
export type Lookup = (name: string) => string | undefined;

/** A malformed template or a `${VAR:?message}` whose variable is missing; `message` is the whole reason. */
export class VariableError extends Error {
  override name = 'VariableError';
}

const NAME = /^[_a-zA-Z][_a-zA-Z0-9]*/;
const BRACED = /^\{([_a-zA-Z][_a-zA-Z0-9]*)(:?[-?+])?/;

/**
 * Replaces $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error},
 * ${VAR:+alternative}, ${VAR+alternative} (the word may itself hold variables) and $$ (a literal
 * $). A variable that is not set and has no default becomes "" and is passed to `unset`, as
 * compose does with a warning.
 */
export function interpolate(text: string, lookup: Lookup, unset: (name: string) => void): string {
  const [out] = expand(text, 0, { lookup, unset, live: true }, false);
  return out;
}

interface Scope {
  lookup: Lookup;
  unset: (name: string) => void;
  /** False inside a word that is not used: it is parsed, never evaluated (no warnings, no errors). */
  live: boolean;
}

function expand(s: string, start: number, scope: Scope, inWord: boolean): [string, number] {
  let out = '';
  let i = start;
  const invalid = (at: number): never => {
    throw new VariableError(`invalid interpolation at "${s.slice(at)}": use $$ for a literal $`);
  };
  while (i < s.length) {
    const c = s[i]!;
    if (inWord && c === '}') return [out, i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const rest = s.slice(i + 1);
    if (rest.startsWith('$')) {
      out += '$';
      i += 2;
      continue;
    }
    const bare = NAME.exec(rest);
    if (bare) {
      out += valueOf(bare[0], scope);
      i += 1 + bare[0].length;
      continue;
    }
    const braced = BRACED.exec(rest);
    if (!braced) return invalid(i);
    const [matched, name, op] = braced;
    const value = scope.live ? scope.lookup(name!) : '';
    const missing = value === undefined || (op?.startsWith(':') && value === '');
    let j = i + 1 + matched.length;
    let word = '';
    if (op) {
      // The word counts only for a missing variable (- ?) or a present one (+).
      const used = scope.live && (op.endsWith('+') ? !missing : missing);
      [word, j] = expand(s, j, { ...scope, live: used }, true);
    }
    if (s[j] !== '}') return invalid(i);
    if (scope.live) {
      if (op?.endsWith('+')) out += missing ? '' : word;
      else if (!missing) out += value;
      else if (op?.endsWith('-')) out += word;
      else if (op?.endsWith('?')) throw new VariableError(`variable ${name} is required: ${word || 'not set'}`);
      else out += valueOf(name!, scope);
    }
    i = j + 1;
  }
  return [out, i]; // in a word, the caller finds no closing }
}

function valueOf(name: string, scope: Scope): string {
  if (!scope.live) return '';
  const v = scope.lookup(name);
  if (v === undefined) scope.unset(name);
  return v ?? '';
}

/**
 * The variables of a `.env` or `env_file` file, in order: `KEY=VALUE` lines, `export KEY=VALUE`,
 * `# comments` (also after an unquoted value, after a space), single quotes (literal), double
 * quotes (\n \r \t \\ \" \$ escapes, may span lines), and interpolation of unquoted and
 * double-quoted values from the file's earlier variables, then `lookup`. A bare `KEY` is null:
 * its value comes from the variables where it is used, or it is left out.
 */
export function parseDotenv(text: string, lookup: Lookup, unset: (name: string) => void): [string, string | null][] {
  const out: [string, string | null][] = [];
  const seen = new Map<string, string | null>();
  const scopeLookup: Lookup = (n) => seen.get(n) ?? lookup(n);
  const src = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  let i = 0;
  let line = 1;
  const fail = (message: string): never => {
    throw new VariableError(`line ${line}: ${message}`);
  };
  while (i < src.length) {
    const end = src.indexOf('\n', i) < 0 ? src.length : src.indexOf('\n', i);
    const text = src.slice(i, end);
    const lineStart = line;
    const head = /^[ \t]*(?:export[ \t]+)?([^=#\s]+)[ \t]*(=[ \t]*)?/.exec(text);
    if (/^[ \t]*(#.*)?$/.test(text)) {
      i = end + 1;
      line++;
      continue;
    }
    if (!head) fail('must be KEY=VALUE');
    const key = head![1]!;
    if (!head![2]) {
      if (text.slice(head![0].length).trim() !== '') fail(`"${key}" must be followed by =`);
      out.push([key, null]);
      seen.set(key, null);
      i = end + 1;
      line++;
      continue;
    }
    let j = i + head![0].length;
    let value: string;
    const quote = src[j];
    if (quote === "'" || quote === '"') {
      let raw = '';
      let k = j + 1;
      for (; k < src.length && src[k] !== quote; k++) {
        if (quote === '"' && src[k] === '\\' && k + 1 < src.length) raw += src[k++];
        raw += src[k];
      }
      if (k >= src.length) fail(`unclosed ${quote === '"' ? 'double' : 'single'} quote`);
      line += (src.slice(j, k).match(/\n/g) ?? []).length;
      j = k + 1;
      const after = src.indexOf('\n', j) < 0 ? src.length : src.indexOf('\n', j);
      if (!/^[ \t]*(#.*)?$/.test(src.slice(j, after))) fail('unexpected text after the closing quote');
      value = quote === "'" ? raw : withLine(lineStart, () => interpolate(unescape(raw), scopeLookup, unset));
      i = after + 1;
    } else {
      const raw = text.slice(head![0].length).replace(/[ \t]+#.*$/, '').trimEnd();
      value = withLine(lineStart, () => interpolate(raw, scopeLookup, unset));
      i = end + 1;
    }
    line++;
    out.push([key, value]);
    seen.set(key, value);
  }
  return out;
}

function unescape(raw: string): string {
  return raw.replace(/\\(.)/gs, (m, c: string) => ({ n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"', $: '$$' }[c] ?? m));
}

function withLine<T>(line: number, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof VariableError) throw new VariableError(`line ${line}: ${err.message}`);
    throw err;
  }
}
