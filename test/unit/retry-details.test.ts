import assert from 'node:assert/strict';
import { withRetry } from '../../src/workflows/retry-details';

describe('current details while an activity retries', () => {
  const base = 'Checking the backup locations for **main-1**';

  it('appends the attempt and the last failure, replacing an earlier retry line', () => {
    const first = withRetry(base, { activity: 'checkBackupLocations', attempt: 2, failure: 'primary location unreachable: connect ECONNREFUSED 127.0.0.1:8333' });
    assert.equal(first, `${base}\n\n**Retrying** \`checkBackupLocations\`: attempt 2: primary location unreachable: connect ECONNREFUSED 127.0.0.1:8333`);
    assert.equal(withRetry(first, { activity: 'checkBackupLocations', attempt: 3, failure: 'timeout' }), `${base}\n\n**Retrying** \`checkBackupLocations\`: attempt 3: timeout`);
  });

  it('removes the retry line when the activity succeeds, and leaves details without one alone', () => {
    const retrying = withRetry(base, { activity: 'checkBackupLocations', attempt: 2, failure: 'x' });
    assert.equal(withRetry(retrying, { activity: 'checkBackupLocations', attempt: 2 }), base);
    assert.equal(withRetry('Applying retention', { activity: 'checkBackupLocations', attempt: 2 }), 'Applying retention');
  });
});
