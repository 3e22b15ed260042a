import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { interpolate, parseDotenv, VariableError } from '../../src/lib/compose-variables';

const vars: Record<string, string> = { SET: 'v', EMPTY: '' };
const lookup = (n: string) => (Object.hasOwn(vars, n) ? vars[n] : undefined);
function expand(text: string): { out: string; unset: string[] } {
  const unset: string[] = [];
  return { out: interpolate(text, lookup, (n) => unset.push(n)), unset };
}

describe('compose interpolation (compose specification)', () => {
  const cases: [string, string, string[]?][] = [
    ['$SET ${SET}', 'v v'],
    ['${SET:-d} ${EMPTY:-d} ${UNSET:-d}', 'v d d'],
    ['${SET-d} ${EMPTY-d} ${UNSET-d}', 'v  d'],
    ['${SET:+alt} ${EMPTY:+alt} ${UNSET:+alt}', 'alt  '],
    ['${SET+alt} ${EMPTY+alt} ${UNSET+alt}', 'alt alt '],
    ['${EMPTY?} ${SET:?must}', ' v'],
    ['$$SET $${SET} a$$', '$SET ${SET} a$'],
    ['${UNSET:-${SET}-x} ${UNSET:-$SET}', 'v-x v'],
    ['${SET:-${UNSET}}', 'v', []], // an unused default is not evaluated: no warning
    ['$UNSET/${UNSET}', '/', ['UNSET', 'UNSET']],
    ['${UNSET:-}', ''],
    ['no variables at all', 'no variables at all'],
  ];
  for (const [text, expected, unset = []] of cases) {
    it(`${text} → ${JSON.stringify(expected)}`, () => assert.deepEqual(expand(text), { out: expected, unset }));
  }

  it('refuses a required variable that is missing, and malformed templates', () => {
    assert.throws(() => expand('${UNSET:?say why}'), { name: 'VariableError', message: 'variable UNSET is required: say why' });
    assert.throws(() => expand('${EMPTY:?}'), { message: 'variable EMPTY is required: not set' });
    assert.throws(() => expand('${UNSET?${SET} needed}'), { message: 'variable UNSET is required: v needed' });
    for (const bad of ['echo $1', 'cost $ 5', '${', '${SET', '${SET:-x', '${1A}', '${SET:x}']) {
      assert.throws(() => expand(bad), (err: Error) => err instanceof VariableError && /^invalid interpolation at "/.test(err.message), bad);
    }
  });
});

describe('.env and env_file format', () => {
  const parse = (text: string, env: Record<string, string> = {}) => {
    const unset: string[] = [];
    return { vars: parseDotenv(text, (n) => env[n], (n) => unset.push(n)), unset };
  };

  it('reads the compose specification forms', () => {
    const text = [
      '# comment', '', 'A=1', 'export B=two words  # trailing comment', "C='single $A \\n'", 'D="double $A\\n\\"q\\" \\$A"',
      'E=${A}-$A-${MISSING:-dflt}', 'F="multi', 'line"', 'BARE', '  G = spaced', 'H=a#not-a-comment', 'I=', 'J=${FROM_ENV}',
    ].join('\n');
    const { vars: v, unset } = parse(text, { FROM_ENV: 'env', A: 'not-used: the file defines A first' });
    assert.deepEqual(v, [
      ['A', '1'], ['B', 'two words'], ['C', 'single $A \\n'], ['D', 'double 1\n"q" $A'], ['E', '1-1-dflt'], ['F', 'multi\nline'],
      ['BARE', null], ['G', 'spaced'], ['H', 'a#not-a-comment'], ['I', ''], ['J', 'env'],
    ]);
    assert.deepEqual(unset, []);
  });

  it('names the line of a malformed entry', () => {
    assert.throws(() => parse('A=1\nB="open\n'), { message: 'line 2: unclosed double quote' });
    assert.throws(() => parse('A=1\n\nC="x" y'), { message: 'line 3: unexpected text after the closing quote' });
    assert.throws(() => parse('A=1\nB C'), { message: 'line 2: "B" must be followed by =' });
    assert.throws(() => parse('A=1\nB=${X:?needed}'), { message: 'line 2: variable X is required: needed' });
    assert.throws(() => parse('X=1\n\n=3'), { message: 'line 3: must be KEY=VALUE' });
  });

  // docker-compose 1.29 reads .env and env_file with python-dotenv 0.21 (Debian's python3-dotenv).
  // On these forms it and the compose specification agree; the forms where they differ are below.
  it('agrees with python-dotenv, docker-compose 1.29\'s reader, where 1.29 follows the specification', () => {
    const text = [
      '# a comment', 'A=1', 'export B=two words  # trailing', "C='single quoted'", 'D="double \\"q\\" \\\\ x"', 'E=${A}-${MISSING:-dflt}',
      'F="multi', 'line"', 'BARE', 'G=a#not-a-comment', 'H=', 'I=${FROM_ENV}', 'J="tab\\there"', 'K = spaced ', 'L=${B}',
    ].join('\n');
    const env = { FROM_ENV: 'env' };
    const ours = parse(text, env).vars;
    const theirs = JSON.parse(execFileSync('python3', ['-c',
      'import io,json,sys; from dotenv import dotenv_values; print(json.dumps(list(dotenv_values(stream=io.StringIO(sys.stdin.read()), interpolate=True).items())))'],
    { input: text, encoding: 'utf8', env: { ...env, PATH: process.env.PATH } }));
    assert.deepEqual(ours, theirs);
  });

  it('follows the specification where docker-compose 1.29 does not', () => {
    // 1.29 leaves $A (no braces) as written, uses the default only when the variable is unset
    // (not when empty), and interpolates inside single quotes.
    assert.deepEqual(parse("A=1\nE=\nB=$A\nC=${E:-d}\nD='${A}'").vars, [['A', '1'], ['E', ''], ['B', '1'], ['C', 'd'], ['D', '${A}']]);
  });
});
