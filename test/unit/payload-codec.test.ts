// The payload codec and failure converter: what reaches Temporal is ciphertext under the current
// key id, decoding picks the key by id (rotation), a missing or altered key is one clear error.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { payloadKeyring } from '../../src/deps';
import { ENCRYPTED_ENCODING, EncryptionCodec, encryptedPayloadsByKey, KEY_ID_METADATA } from '../../src/infra/payload-codec';
import { failureConverter } from '../../src/lib/failure-converter';
import { ErrorType } from '../../src/lib/errors';

const secrets: Record<string, string> = { KEY_A: randomBytes(32).toString('base64'), KEY_B: randomBytes(32).toString('base64') };
const secret = (v: string) => secrets[v] ?? assert.fail(`secret ${v} is not set`);
const keyring = (current: string, ids: string[]) => payloadKeyring({ current, keys: Object.fromEntries(ids.map((id) => [id, { keyEnv: `KEY_${id.toUpperCase()}` }])) }, secret);
const codec = (current: string, ids: string[], onMissingKey?: (id: string, m: string) => void) => new EncryptionCodec(keyring(current, ids), onMissingKey);

const SECRET_TEXT = 'redis://10.0.0.7:6379 /var/lib/redis user:1234:session';
const plain = defaultPayloadConverter.toPayload({ note: SECRET_TEXT });
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('utf8');

describe('payload codec (AES-256-GCM)', function () {
  it('encrypts the whole payload under the current key id and decodes it back', async () => {
    const [enc] = await codec('a', ['a']).encode([plain]);
    assert.equal(text(enc!.metadata!.encoding), ENCRYPTED_ENCODING);
    assert.equal(text(enc!.metadata![KEY_ID_METADATA]), 'a');
    assert.ok(!Buffer.from(enc!.data!).toString('latin1').includes('redis://') && !Buffer.from(enc!.data!).includes(Buffer.from('json/plain')), 'data and encoding hidden');
    const [dec] = await codec('a', ['a']).decode([enc!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(dec!), { note: SECRET_TEXT });
  });

  it('uses a fresh nonce per payload', async () => {
    const [x, y] = await codec('a', ['a']).encode([plain, plain]);
    assert.notDeepEqual(Buffer.from(x!.data!), Buffer.from(y!.data!));
  });

  it('passes plaintext payloads (histories from before encryption) through', async () => {
    assert.deepEqual(await codec('a', ['a']).decode([plain]), [plain]);
  });

  it('rotation: a payload under A decodes once B is current; new payloads carry B', async () => {
    const [underA] = await codec('a', ['a']).encode([plain]);
    const rotated = codec('b', ['a', 'b']);
    assert.deepEqual(defaultPayloadConverter.fromPayload((await rotated.decode([underA!]))[0]!), { note: SECRET_TEXT });
    assert.equal(text((await rotated.encode([plain]))[0]!.metadata![KEY_ID_METADATA]), 'b');
  });

  it('a payload whose key was removed fails naming the key id, reported once', async () => {
    const [underA] = await codec('a', ['a']).encode([plain]);
    const told: string[] = [];
    const withoutA = codec('b', ['b'], (id) => told.push(id));
    for (let i = 0; i < 2; i++) {
      await assert.rejects(withoutA.decode([underA!]), (err: ApplicationFailure) => {
        assert.equal(err.type, ErrorType.PayloadKeyMissing);
        assert.match(err.message, /^cannot decode a Temporal payload: payload key a not configured \(temporal\.encryption\)$/);
        return true;
      });
    }
    assert.deepEqual(told, ['a']);
  });

  it('an altered payload, or one claiming another key id, fails its tag', async () => {
    const [enc] = await codec('a', ['a']).encode([plain]);
    const flipped: Payload = { ...enc!, data: Buffer.from(enc!.data!).map((b, i) => (i === 20 ? b ^ 1 : b)) };
    await assert.rejects(codec('a', ['a']).decode([flipped]), /key a\) fails its authentication tag/);
    const relabelled: Payload = { ...enc!, metadata: { ...enc!.metadata, [KEY_ID_METADATA]: Buffer.from('b') } };
    await assert.rejects(codec('a', ['a', 'b']).decode([relabelled]), /key b\) fails its authentication tag/);
  });

  it('refuses to be built when the current key is not configured', () => {
    assert.throws(() => codec('c', ['a', 'c']), /key c not configured: secret KEY_C is not set/);
  });

  it('finds the key ids a history depends on', async () => {
    const [a] = await codec('a', ['a']).encode([plain]);
    const [b] = await codec('b', ['b']).encode([plain]);
    const history = { events: [{ input: { payloads: [a, plain] } }, { result: { payloads: [b] } }, { more: { payloads: [a] } }] };
    assert.deepEqual([...encryptedPayloadsByKey(history).keys()], ['a', 'b']);
  });
});

describe('failure converter', function () {
  it('moves message and stack trace into a payload (then encrypted by the codec)', () => {
    const f = failureConverter.errorToFailure(new Error(`cannot reach ${SECRET_TEXT}`), defaultPayloadConverter);
    assert.equal(f.message, 'Encoded failure');
    assert.equal(f.stackTrace, '');
    assert.ok(f.encodedAttributes);
    assert.match(failureConverter.failureToError(f, defaultPayloadConverter).message, /cannot reach redis:\/\/10\.0\.0\.7/);
  });

  it('keeps sign-off refusals readable in the Web UI Update modal', () => {
    const f = failureConverter.errorToFailure(ApplicationFailure.nonRetryable('mallory is not an approver for stage redis (approvers: alice)', ErrorType.SignOffRefused), defaultPayloadConverter);
    assert.equal(f.message, 'mallory is not an approver for stage redis (approvers: alice)');
    assert.equal(f.encodedAttributes, undefined);
  });
});
