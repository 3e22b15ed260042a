// The environment file of the local stack (titan.yaml) as the schema tests' starting point: one
// change applied and re-serialised, and the one-line ConfigError a bad variant must give.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { parseEnvironment } from '../../src/lib/environment';
import { ConfigError } from '../../src/lib/validation';

export const example = readFileSync(path.resolve(__dirname, '..', '..', '..', 'titan.yaml'), 'utf8');

/** The example with `change` applied to its parsed document. */
export function variant(change: (doc: any) => void): string {
  const doc = parse(example);
  change(doc);
  return stringify(doc);
}

/** The message of the ConfigError the text must be refused with, checked to be one line. */
export function configErrorOf(text: string): string {
  try {
    parseEnvironment(text, 'titan.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message.split('\n').length, 1, 'one line');
    return err.message;
  }
  assert.fail('expected a ConfigError');
}
