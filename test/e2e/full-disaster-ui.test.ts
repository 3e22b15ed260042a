// The Web UI as an operator uses it, in real Chromium: a full-disaster recovery started with the
// Start Workflow form, seen waiting for a sign-off (current details: the stage and who may sign),
// a sign-off refused in the Update modal with the validator's reason, then accepted; the
// recovery completes; its encrypted payloads are shown decoded through the stack's codec server,
// and as ciphertext while it is stopped. Screenshots go to test-artifacts/full-disaster-ui/.
import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import type { Browser, Page } from 'playwright-core';
import type { RecoveryReport } from '../../src/lib/recovery-report';
import { SearchKey } from '../../src/lib/names';
import { openBrowser, UI } from '../helpers/browser';
import { runBackup } from '../helpers/backups';
import { type ManagedRedis, startManagedRedis } from '../helpers/managed-redis';
import { stackCtl, TEMPORAL_NAMESPACE, temporalClient, uniqueName } from '../helpers/stack';
import { type TestEnv, writeTestEnvironment } from '../helpers/titan-env';
import { until } from '../helpers/wait';
import { startWorker } from '../helpers/worker';

describe('full-disaster recovery in the Web UI (Chromium)', function () {
  let client: Client;
  let redis: ManagedRedis;
  let env: TestEnv;
  let worker: { stop(): Promise<void> };
  let browser: Browser;
  let page: Page;
  let shot: (name: string) => Promise<void>;

  before(async () => {
    client = await temporalClient();
    redis = await startManagedRedis();
    process.env.TITAN_TEST_UI_PASSWORD = redis.password;
    env = writeTestEnvironment({ instances: { main: redis.instance('TITAN_TEST_UI_PASSWORD') }, offsite: false, recovery: { stages: ['redis'], approvers: { default: ['alice'] } } });
    worker = await startWorker(env);
    ({ browser, page, shot } = await openBrowser('full-disaster-ui'));
  });
  after(async () => {
    await browser?.close();
    await worker?.stop();
    await redis?.stop();
    await client?.connection.close();
  });

  /** The page's text, also inside the frames the UI renders Markdown (summaries, details) in. */
  const bodyText = async () => (await Promise.all(page.frames().map((f) => f.locator('body').innerText().catch(() => '')))).join(' ').replace(/\s+/g, ' ');

  /** Replaces the text of the form's JSON editor (a CodeMirror view). */
  async function typeJson(scope: Page | ReturnType<Page['locator']>, json: unknown) {
    const editor = scope.locator('.cm-content').filter({ visible: true }).first();
    await editor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(JSON.stringify(json));
  }

  it('started from the Start Workflow form, waits for alice; a refused and an accepted sign-off from the Update modal; completes', async () => {
    await redis.client().set('before-disaster', 'yes');
    const digest = await redis.client().call('DEBUG', 'DIGEST');
    await runBackup(client, env);
    await redis.client().flushall();
    const workflowId = uniqueName('ui-recovery');

    await page.goto(`${UI}/namespaces/${TEMPORAL_NAMESPACE}/workflows/start-workflow`);
    await page.fill('#workflowId', workflowId);
    await page.fill('#taskQueue', env.taskQueue);
    await page.fill('#workflowType', 'fullDisasterRecovery');
    await typeJson(page, {});
    await shot('start-form');
    await page.click('[data-testid=start-workflow-button]');
    const handle = client.workflow.getHandle(workflowId);
    await until('the workflow started by the form', () => handle.describe());
    await page.goto(`${UI}/namespaces/${TEMPORAL_NAMESPACE}/workflows/${workflowId}`);

    // Current details: what the recovery waits for and from whom (the page refreshes itself).
    await until('the UI showing the wait for alice', async () => {
      await page.click('[data-testid=user-metadata-tab]');
      return /Waiting since \S+ for alice to sign off stage redis \(attempt 1\): approve, reject, retry/.test(await bodyText()) || undefined;
    }, 60_000);
    await shot('waiting-for-alice');

    const signOff = async (by: string) => {
      await page.getByRole('button', { name: 'More Actions' }).click();
      await page.locator('[data-testid=update-button]').filter({ visible: true }).click();
      await page.locator('[data-testid=update-select-button]').filter({ visible: true }).click();
      await page.getByRole('option', { name: /^signOff/ }).filter({ visible: true }).click();
      await typeJson(page.locator('[role=dialog], dialog').filter({ visible: true }), { stage: 'redis', decision: 'approve', by, comment: 'checked in the UI' });
      // A mouse click on Submit right after typing does not submit here (the editor's blur
      // re-renders the modal); the keyboard does, as it would for an operator.
      await page.locator('[data-testid=confirm-modal-button]').filter({ visible: true }).focus();
      await page.keyboard.press('Enter');
    };
    await signOff('mallory');
    await until('the refusal shown in the modal', async () => /mallory is not an approver for stage redis \(approvers: alice\)/.test(await bodyText()) || undefined, 15_000);
    assert.doesNotMatch(await bodyText(), /at \S+\.js:\d+/, 'the refusal carries no worker stack trace');
    await shot('mallory-refused');
    await page.locator('[data-testid=cancel-modal-button]').filter({ visible: true }).click();

    await signOff('alice');
    await page.getByText('Completed', { exact: true }).first().waitFor({ timeout: 60_000 });
    await page.reload(); // current details as the workflow left them
    await page.click('[data-testid=user-metadata-tab]');
    await until('the final current details', async () => /Recovery completed/.test(await bodyText()) || undefined, 15_000);
    await shot('completed');

    const report: RecoveryReport = await handle.result();
    assert.equal(report.outcome, 'completed');
    assert.deepEqual(report.stages[0]!.signOffs.map((s) => [s.by, s.decision, s.via]), [['alice', 'approve', 'update']]);
    const history = (await handle.fetchHistory()).events ?? [];
    assert.equal(history.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length, 1, "mallory's refused Update left no trace in history");
    const sa = (await handle.describe()).typedSearchAttributes;
    assert.deepEqual([sa.get(SearchKey.environment), sa.get(SearchKey.kind), sa.get(SearchKey.stage)], [env.environment, 'recovery', 'redis'], 'a recovery started from the form is filterable too');
    assert.equal(await redis.client().call('DEBUG', 'DIGEST'), digest, 'Redis restored from the backup');


    // Payloads are encrypted in history (infra/payload-codec.ts); the UI shows them through the
    // stack's codec server: the result, and the sign-off Update's input and outcome.
    const signOffEvent = async () => {
      await page.goto(`${UI}/namespaces/${TEMPORAL_NAMESPACE}/workflows/${workflowId}`);
      await page.getByText('signOff', { exact: true }).first().click();
      return bodyText();
    };
    const ENCRYPTED = Buffer.from('binary/encrypted').toString('base64');
    const decoded = await until('the decoded result and sign-off', async () => {
      const text = await signOffEvent();
      return /"outcome": "completed"/.test(text) && /"comment": "checked in the UI"/.test(text) ? text : undefined;
    }, 30_000);
    assert.ok(!decoded.includes(ENCRYPTED), 'nothing left encrypted on the page');
    await shot('decoded-through-codec-server');
    // Without the codec server the same page can only show ciphertext: the UI really used it.
    stackCtl('stop', 'codec');
    try {
      const raw = await until('the encrypted payloads', async () => {
        const text = await signOffEvent();
        return text.includes(ENCRYPTED) ? text : undefined;
      }, 30_000);
      assert.doesNotMatch(raw, /checked in the UI|"outcome": "completed"/);
      await shot('encrypted-without-codec-server');
    } finally {
      stackCtl('start', 'codec');
    }
  });
});
