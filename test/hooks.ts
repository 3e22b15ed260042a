// Root hooks (loaded by .mocharc.json): remove what the run stored in the stack's buckets, so
// repeated test runs do not fill a developer's disk.
import { DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { stores } from './helpers/backups';
import { writtenEnvironments } from './helpers/titan-env';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(120_000);
    for (const env of writtenEnvironments) {
      for (const store of stores(env)) {
        await store.abortUploads(env.prefix).catch(() => undefined); // a missing bucket has nothing to clean
        let token: string | undefined;
        do {
          const page = await store.client.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: env.prefix, ContinuationToken: token })).catch(() => undefined);
          const keys = (page?.Contents ?? []).map((o) => ({ Key: o.Key! }));
          if (keys.length) await store.client.send(new DeleteObjectsCommand({ Bucket: store.bucket, Delete: { Objects: keys } }));
          token = page?.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
      }
    }
  },
};
