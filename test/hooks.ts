// Root hooks (loaded by .mocharc.json): remove what the run stored in the stack's buckets, so
// repeated test runs do not fill a developer's disk.
import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import { stores } from './helpers/backups';
import { writtenEnvironments } from './helpers/titan-env';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(120_000);
    for (const env of writtenEnvironments) {
      for (const store of stores(env)) {
        await store.abortUploads(env.prefix).catch(() => undefined); // a missing bucket has nothing to clean
        // By version: the off-site bucket is versioned (Object Lock), where a plain delete only adds a marker.
        // Versions still under a COMPLIANCE lock are refused and stay until it ends (tests lock for seconds).
        const versions = await store.versions(env.prefix).catch(() => []);
        for (let i = 0; i < versions.length; i += 1000) {
          const batch = versions.slice(i, i + 1000).map((v) => ({ Key: v.key, VersionId: v.versionId }));
          await store.client.send(new DeleteObjectsCommand({ Bucket: store.bucket, Delete: { Objects: batch }, BypassGovernanceRetention: true })).catch(() => undefined);
        }
      }
    }
  },
};
