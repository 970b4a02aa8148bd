import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { workflowCode } from './support/workflow-bundle.js';
import { HISTORIES_DIR, RECORDED_HISTORIES, historyFile, loadHistory } from './support/histories.js';

// Workflows running when new code deploys (orders held up to a day, pools for ever) continue on the
// new code by replaying their history. Each recorded history (npm run histories:record) must replay
// against the current workflow code without a determinism violation.

// The failing replay below is expected: keep the core's warning about it off the output.
beforeAll(() => {
  if (Runtime._instance) return;
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
  });
});

/** Every fixture: the recorder's, and any older recording kept while a patch protects it. */
const fixtures = () =>
  readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();

it('every history the recorder writes is present', () => {
  for (const name of RECORDED_HISTORIES) expect([name, existsSync(historyFile(name))]).toEqual([name, true]);
});

it('the current workflow code replays every recorded history', async () => {
  const names = fixtures();
  expect(names.length).toBeGreaterThanOrEqual(RECORDED_HISTORIES.length);
  const histories = await Promise.all(names.map(loadHistory));
  const results = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowCode() }, histories)) {
    results.push({ history: result.workflowId, error: result.error?.message });
  }
  expect(results).toEqual(names.map((history) => ({ history, error: undefined })));
});

it('a workflow that issues its steps in another order fails to replay them', async () => {
  const reordered = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('./support/reordered-order-workflow.ts', import.meta.url)),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
  });
  // An order whose workflow took the buy and the completion itself (their local activities are in it).
  const { history } = await loadHistory('order-bought-alone.before-debit-goes-on');
  const replay = Worker.runReplayHistory({ workflowBundle: reordered }, history, 'order-bought-alone');
  await expect(replay).rejects.toBeInstanceOf(DeterminismViolationError);
}, 120_000);
