// The checking thread of an encrypted backup's staging (staging-thread.ts): reads the plaintext
// back from the staging file (from the page cache) as far as the decrypting thread has written
// it, from offset 0 (so an interrupted attempt's bytes are re-checked too), and runs the checks.
// Splitting the work this way keeps either thread from being the download's bottleneck.
import { parentPort, workerData } from 'node:worker_threads';
import { failedMessage, stagingChecks } from './staging-checks';
import { type StagingMessage, type StagingSetup, PROGRESS, RUNNING } from './staging-thread';

const setup = workerData as StagingSetup;
const post = (m: StagingMessage) => parentPort!.postMessage(m);
const progress = new BigInt64Array(setup.progress);
const checks = stagingChecks(setup);
let checked = 0;

try {
  for (;;) {
    // seq first: a publish after this read changes it, so the wait below cannot miss it.
    const seq = Atomics.load(progress, PROGRESS.seq);
    const state = Number(Atomics.load(progress, PROGRESS.state));
    const written = Number(Atomics.load(progress, PROGRESS.written));
    if (checked < written) {
      checks.checkFile(setup.fd, checked, written, 'written');
      checked = written;
    } else if (state !== RUNNING) break;
    else Atomics.wait(progress, PROGRESS.seq, seq, 1000); // woken by the decrypting thread's next publish
  }
  post({ done: checks.result(checked) });
} catch (err) {
  post(failedMessage(err));
}
