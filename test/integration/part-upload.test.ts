// PartUpload against the stack's SeaweedFS: reused part buffers, the CRC32 that S3 checks on each
// part and reports for the object, failures and abort. uploadVerified relies on each of these.
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { ListMultipartUploadsCommand, UploadPartCommand, CreateMultipartUploadCommand, AbortMultipartUploadCommand } from '@aws-sdk/client-s3';
import type { FinalizeRequestMiddleware, MiddlewareStack } from '@smithy/types';
import type { BackupStore } from '../../src/infra/backup-store';
import { PartUpload, unsignedPayload } from '../../src/infra/part-upload';
import { readObject, stores } from '../helpers/backups';
import { prng, randomBytes } from '../helpers/prng';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';

const MiB = 1024 ** 2;
const crc32Base64 = (b: Uint8Array) => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(b));
  return out.toString('base64');
};

describe('PartUpload on SeaweedFS', function () {
  let env: TestEnv;
  let primary: BackupStore;
  const key = (name: string) => `${env.prefix}part-upload/${name}`;
  const unfinished = async (k: string) =>
    (await primary.client.send(new ListMultipartUploadsCommand({ Bucket: primary.bucket, Prefix: k }))).Uploads?.length ?? 0;

  before(() => {
    env = writeTestEnvironment({ redisUrl: 'redis://127.0.0.1:1', offsite: false });
    [primary] = stores(env) as [BackupStore];
  });

  it('streams uneven chunks through at most queueSize + 1 reused buffers; S3 holds the bytes and reports the composite CRC32 computed here', async () => {
    const data = Buffer.from(randomBytes(23 * MiB + 123, 1));
    const upload = new PartUpload(primary, key('multi'), 5 * MiB, 2);
    const next = prng(2);
    for (let i = 0; i < data.length; ) {
      const n = 1 + (next() % (3 * MiB));
      await upload.write(data.subarray(i, i + n));
      i += n;
    }
    const sent = await upload.end();
    assert.ok(upload.buffers <= 3, `${upload.buffers} buffers for 5 parts`);
    assert.match(sent.crc32, /-5$/);
    const head = await primary.headObject(key('multi'));
    assert.equal(head?.crc32, sent.crc32);
    assert.equal(head?.bytes, data.length);
    assert.ok((await readObject(primary, key('multi'))).equals(data), 'stored bytes differ');
    assert.equal(await unfinished(key('multi')), 0);
  });

  it('sends a stream that fits one part as one PUT, whose checksum is its plain CRC32', async () => {
    const data = Buffer.from(randomBytes(1000, 3));
    const upload = new PartUpload(primary, key('single'), 5 * MiB, 2);
    await upload.write(data);
    const sent = await upload.end();
    assert.equal(sent.crc32, crc32Base64(data));
    assert.equal((await primary.headObject(key('single')))?.crc32, sent.crc32);
  });

  it('sends parts unsigned (UNSIGNED-PAYLOAD), and the store still refuses a part whose bytes do not match the CRC32 sent with it (what the per-part check relies on)', async () => {
    const k = key('refused');
    const { UploadId } = await primary.client.send(new CreateMultipartUploadCommand({ Bucket: primary.bucket, Key: k, ChecksumAlgorithm: 'CRC32' }));
    const body = Buffer.from(randomBytes(4096, 4));
    const wrong = crc32Base64(Buffer.concat([body, Buffer.from([0])]));
    const command = unsignedPayload(new UploadPartCommand({ Bucket: primary.bucket, Key: k, UploadId, PartNumber: 1, Body: body, ChecksumCRC32: wrong }));
    // What went on the wire, once signed: the body's hash is not part of the signature.
    const sent: Record<string, string> = {};
    const capture: FinalizeRequestMiddleware<object, object> = (next) => async (args) => {
      Object.assign(sent, (args.request as { headers?: Record<string, string> }).headers);
      return next(args);
    };
    (command.middlewareStack as unknown as MiddlewareStack<object, object>).addRelativeTo(capture, { relation: 'after', toMiddleware: 'httpSigningMiddleware' });
    await assert.rejects(primary.client.send(command), (err: Error) => err.name === 'BadDigest');
    assert.equal(sent['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
    assert.match(sent.authorization ?? '', /SignedHeaders=[^,]*x-amz-checksum-crc32/, 'the CRC32 header is signed');
    await primary.client.send(new AbortMultipartUploadCommand({ Bucket: primary.bucket, Key: k, UploadId }));
  });

  it('abort after parts went out leaves neither an object nor an unfinished multipart upload', async () => {
    const upload = new PartUpload(primary, key('aborted'), 5 * MiB, 2);
    await upload.write(Buffer.from(randomBytes(12 * MiB, 5)));
    await upload.abort();
    assert.equal(await unfinished(key('aborted')), 0);
    assert.equal(await primary.headObject(key('aborted')), undefined);
  });

  it('a part S3 refuses fails the upload (here: the bucket does not exist)', async () => {
    const [missing] = stores(writeTestEnvironment({ redisUrl: 'redis://127.0.0.1:1', offsite: false, primaryBucket: 'no-such-bucket-titan' })) as [BackupStore];
    const upload = new PartUpload(missing, key('nobucket'), 5 * MiB, 2);
    await upload.write(Buffer.from(randomBytes(6 * MiB, 6)));
    await assert.rejects(upload.end(), (err: Error) => err.name === 'NoSuchBucket');
  });
});
