import type { Connection, WorkflowHandle } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import { ADMIN, eventually, fundedUser, login, startApi, type TestApi } from './support/api.js';
import { orderIdOf, orderWorkflowId, poolQuery, poolWorkflowId } from '../src/workflows/definitions.js';
import { missingSearchAttributes, requireSearchAttributes } from '../src/worker/search-attributes.js';
import { registerSearchAttributes } from './support/search-attributes.js';

// What an operator finds in `temporal workflow list --query …` and the Web UI, against the run's
// dev server (which registers the search attributes as `make dev` does), with the real API and worker.

let api: TestApi;
let admin: string;
beforeAll(async () => {
  // New accounts: orders from $20 are held for review.
  api = await startApi({ worker: true, env: { FRAUD_NEW_ACCOUNT_HOLD_TOTAL: '20.00' } });
  admin = await login(api, ADMIN.username, ADMIN.password);
});
afterAll(async () => api?.close());

const userId = async (username: string): Promise<number> => {
  const [row] = await api.db.orm.em
    .fork()
    .execute<{ id: number }[]>('select id from users where username = ?', [username]);
  return Number(row!.id);
};

async function buyer(balance: string) {
  const user = await fundedUser(api, balance);
  return { ...user, id: await userId(user.username) };
}

/** Places an order through the API; the order, or the refusal's status and body. */
async function place(token: string, crypto: string, amount: string | number) {
  return api.call('POST', 'orders/', { token, body: { crypto, amount } });
}

async function placed(token: string, crypto: string, amount: string | number, state: string) {
  const res = await place(token, crypto, amount);
  expect(res.status).toBe(201);
  expect(res.body.state).toBe(state);
  return res.body.id as number;
}

/** The orders a visibility query lists, among this file's workflows (its own task queue). */
async function listed(query: string): Promise<number[]> {
  const ids: number[] = [];
  const scoped = `TaskQueue="${api.env.TEMPORAL_TASK_QUEUE}" AND ${query}`;
  for await (const workflow of api.temporal.workflow.list({ query: scoped })) {
    ids.push(orderIdOf(workflow.workflowId) ?? -1);
  }
  return ids.sort((a, b) => a - b);
}

/** Waits until the query lists exactly `expected` (visibility lags the workflows a little). */
const listsExactly = async (query: string, expected: number[]) => {
  const want = [...expected].sort((a, b) => a - b);
  const got = await eventually(
    () => listed(query),
    (ids) => JSON.stringify(ids) === JSON.stringify(want),
    60_000,
  ).catch(async () => listed(query));
  expect({ query, ids: got }).toEqual({ query, ids: want });
};

/** What the Web UI shows as a workflow's current details (the SDK's built-in metadata query). */
const currentDetails = async (handle: WorkflowHandle) =>
  (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails;

const review = (orderId: number, decision: 'approve' | 'reject') =>
  api.call('POST', `admin/orders/${orderId}/${decision}/`, { token: admin });

it('each order state lists exactly its orders; a held order leaves the held list once reviewed', async () => {
  const alice = await buyer('1000.00');
  const bob = await buyer('1000.00');
  const poor = await buyer('5.00');
  const held1 = await placed(alice.access, 'ABAN', 6, 'held'); // $24.00
  const held2 = await placed(alice.access, 'ABAN', 5, 'held'); // $20.00
  const alone = await placed(bob.access, 'ABAN', 3, 'pending'); // $12.00, bought alone
  const pooled = await placed(bob.access, 'ABAN', 1, 'aggregated'); // $4.00, waits in the pool
  const btc = await placed(bob.access, 'BTC', '0.0002', 'pending'); // $10.00
  expect((await place(poor.access, 'ABAN', 3)).status).toBe(422); // insufficient funds

  await listsExactly('OrderState="held"', [held1, held2]);
  await listsExactly('OrderState="aggregated"', [pooled]);
  await listsExactly('OrderState="completed"', [alone, btc]);
  // The refused order never had a row, but its workflow ran: it is listed under the user.
  // (The 422 comes from the debit's refusal in Postgres; the workflow task that records it may end
  // a moment later.)
  const [refused] = await eventually(
    () => listed(`OrderState="rejected" AND UserId=${poor.id}`),
    (ids) => ids.length > 0,
    60_000,
  );
  expect(refused).toBeGreaterThan(0);
  await listsExactly('OrderState="rejected"', [refused!]);

  expect((await review(held1, 'approve')).status).toBe(200);
  await listsExactly('OrderState="held"', [held2]);
  await listsExactly('OrderState="completed"', [alone, btc, held1]);
  expect((await review(held2, 'reject')).status).toBe(200);
  await listsExactly('OrderState="held"', []);
  await listsExactly('OrderState="failed"', [held2]);

  // The other attributes filter too, alone and combined.
  await listsExactly('Crypto="BTC"', [btc]);
  await listsExactly(`UserId=${bob.id}`, [alone, pooled, btc]);
  await listsExactly(`UserId=${alice.id} AND OrderState="completed"`, [held1]);
  await listsExactly('OrderTotalCents >= 2000', [held1, held2]);
  await listsExactly('OrderTotalCents = 1000 AND Crypto="BTC"', [btc]);
  // A refused order was never priced: it has no total to filter by.
  await listsExactly('OrderTotalCents < 1000', [pooled]);
}, 240_000);

it('an order starts with its summary and keeps its details current: state, total, reason', async () => {
  const carol = await buyer('1000.00');
  const orderId = await placed(carol.access, 'ABAN', '6.5', 'held'); // $26.00
  const handle = api.temporal.workflow.getHandle(orderWorkflowId(orderId));
  // The API answers once the debit has committed; the workflow task that holds the order may end
  // a moment later.
  const attributes = async () =>
    (await handle.describe()).typedSearchAttributes.getAll().map(({ key, value }) => [key.name, value]);
  await eventually(attributes, (list) => list.some(([k, v]) => k === 'OrderState' && v === 'held'));
  expect(await (await handle.describe()).staticSummary()).toBe(`Buy 6.5 ABAN — user ${carol.id}`);
  expect(await attributes()).toEqual(
    expect.arrayContaining([
      ['OrderState', 'held'],
      ['Crypto', 'ABAN'],
      ['UserId', carol.id],
      ['OrderTotalCents', 2600],
    ]),
  );
  expect(await currentDetails(handle)).toMatch(
    /^- State: held\n- Total: \$26\.00 \(6\.5 at \$4\.00\)\n- Reason: .+$/,
  );

  expect((await review(orderId, 'approve')).status).toBe(200);
  await handle.result();
  expect(await currentDetails(handle)).toBe('- State: completed\n- Total: $26.00 (6.5 at $4.00)');
}, 120_000);

it('the pool shows its total and next flush; an order bought in a batch shows the batch', async () => {
  const dave = await buyer('1000.00');
  const first = await placed(dave.access, 'ETH', '0.001', 'aggregated'); // $3.00
  const pool = api.temporal.workflow.getHandle(poolWorkflowId('ETH'));
  // The pool starts when the order joins it, after the API has answered.
  const view = (await eventually(
    () => pool.query(poolQuery).catch(() => undefined),
    (v) => v?.orders.length === 1,
    60_000,
  ))!;
  expect(await currentDetails(pool)).toBe(
    `- Total: $3.00 of $${view.threshold} in 1 order(s)\n` +
      `- Next flush: ${view.flush_at} at the latest\n` +
      '- Batches bought: 0',
  );
  const order = api.temporal.workflow.getHandle(orderWorkflowId(first));
  await eventually(
    () => currentDetails(order),
    (details) => details === '- State: aggregated\n- Total: $3.00 (0.001 at $3000.00)',
  );

  // $12.00 in all, over the threshold: the pool buys one batch for both.
  const second = await placed(dave.access, 'ETH', '0.003', 'aggregated'); // $9.00
  const settled = await order.result();
  expect(settled.state).toBe('completed');
  expect(await currentDetails(order)).toBe(
    `- State: completed\n- Total: $3.00 (0.001 at $3000.00)\n- Batch: ${settled.batchId}`,
  );
  await listsExactly(`OrderState="completed" AND Crypto="ETH"`, [first, second]);
  await eventually(
    () => currentDetails(pool),
    (details) => details?.includes('- Batches bought: 1') ?? false,
    60_000,
  );
  expect(await currentDetails(pool)).toBe(
    `- Total: $0.00 of $${view.threshold} in 0 order(s)\n- Next flush: none (empty)\n- Batches bought: 1`,
  );
}, 120_000);

describe('the worker refuses a namespace without the search attributes', () => {
  const warnings: [string, Record<string, unknown> | undefined][] = [];
  const logger = {
    warn: (message: string, meta?: Record<string, unknown>) => void warnings.push([message, meta]),
  };

  it('passes on the dev server, which registers them', async () => {
    expect(
      await missingSearchAttributes(api.temporal.connection as Connection, api.env.TEMPORAL_NAMESPACE!),
    ).toEqual([]);
    await requireSearchAttributes(api.temporal.connection as Connection, api.env.TEMPORAL_NAMESPACE!, logger);
  });

  it('names every missing one until they are registered', async () => {
    // A namespace registered after the dev server started has none of them.
    const connection = api.temporal.connection as Connection;
    const namespace = `bare-${process.pid}-${process.env.JEST_WORKER_ID ?? '1'}`;
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    const missing = await eventually(
      () => missingSearchAttributes(connection, namespace).catch((error: unknown) => String(error)),
      (answer) => Array.isArray(answer),
      30_000,
    );
    expect(missing).toEqual([
      'OrderState (keyword)',
      'Crypto (keyword)',
      'UserId (int)',
      'OrderTotalCents (int)',
    ]);
    await expect(requireSearchAttributes(connection, namespace, logger)).rejects.toThrow(
      `the Temporal namespace "${namespace}" lacks the search attributes OrderState (keyword), ` +
        'Crypto (keyword), UserId (int), OrderTotalCents (int): register them first',
    );
    await registerSearchAttributes(connection, namespace);
    await requireSearchAttributes(connection, namespace, logger);
    expect(warnings).toEqual([]);
  }, 60_000);

  it('only warns when the server does not let it list them', async () => {
    await requireSearchAttributes(api.temporal.connection as Connection, 'no-such-namespace', logger);
    expect(warnings).toEqual([
      [
        'could not list the namespace search attributes; orders need them registered',
        expect.objectContaining({ namespace: 'no-such-namespace' }),
      ],
    ]);
  });
});
