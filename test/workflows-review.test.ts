import { orderWorkflow } from '../src/workflows/index.js';
import { orderStatusQuery, orderWorkflowId } from '../src/workflows/definitions.js';
import { fraudConfig } from '../src/config/env.js';
import { balance, fundedUser, nextOrderId, startPipeline, type Pipeline } from './support/pipeline.js';
import { testEnv } from './support/api.js';

let p: Pipeline;
beforeAll(async () => {
  // Every order of $20 or more from a new account is held for review.
  const fraud = fraudConfig(testEnv({ FRAUD_NEW_ACCOUNT_HOLD_TOTAL: '20.00' }));
  p = await startPipeline({ fraud, reviewTimeoutMs: 24 * 3_600_000 });
});
afterAll(async () => p?.close());

it('a held order nobody reviews is rejected and refunded when the review time runs out', async () => {
  const user = await fundedUser(p.db, '100.00');
  const orderId = await nextOrderId(p.db);
  const result = await p.withWorker(async () => {
    const handle = await p.client.workflow.start(orderWorkflow, {
      args: [{ orderId, userId: user, crypto: 'ABAN', amount: '10' }],
      workflowId: orderWorkflowId(orderId),
      taskQueue: p.taskQueue,
    });
    // Held and debited while it waits.
    for (;;) {
      const status = await handle.query(orderStatusQuery);
      if (status.state === 'held') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await balance(p.db, user)).toBe('60.00');
    await p.env.sleep('23 hours');
    expect((await handle.query(orderStatusQuery)).state).toBe('held');
    // Awaiting the result lets the test server skip past the 24 h deadline.
    return handle.result();
  });
  expect(result).toMatchObject({ state: 'failed', reason: 'not reviewed in time' });
  expect(await balance(p.db, user)).toBe('100.00');
  const [order] = await p.db.orm.em
    .fork()
    .execute<{ state: string; reviewed_by: number | null }[]>(
      'select state, reviewed_by from orders where id = ?',
      [orderId],
    );
  expect(order).toEqual({ state: 'failed', reviewed_by: null });
});
