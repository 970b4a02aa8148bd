// Records the workflow histories that test/replay.test.ts replays against the current workflow code.
// Each scenario runs through the real API, worker, activities, Postgres, exchange simulator and a
// Temporal dev server, the way production runs it; the finished (or, for pools, current) history
// of each workflow is written to test/fixtures/histories/<name>.json.
//
// Refresh the fixtures only after a compatible workflow change has passed the replay test against
// the old ones (README.md, "Deploying workflow changes").
import { mkdir, writeFile } from 'node:fs/promises';
import type { Client } from '@temporalio/client';
import { poolWorkflow } from '../src/workflows/index.js';
import { orderWorkflowId, poolQuery, poolTaskQueue, poolWorkflowId } from '../src/workflows/definitions.js';
import { startServices } from '../test/support/services.js';
import { stopServices } from '../test/support/services-teardown.js';
import { ADMIN, eventually, fundedUser, login, startApi, type TestApi } from '../test/support/api.js';
import { addCrypto } from '../test/support/pipeline.js';
import { historyToJson } from '../test/support/history-json.js';
import {
  HISTORIES_DIR,
  RECORDED_HISTORIES,
  historyFile,
  type RecordedHistory,
} from '../test/support/histories.js';

/** One crypto per pool scenario, so each pool's history holds that scenario alone. */
const CRYPTOS = { RPOOL: '1.00', RCANCEL: '1.00', RCAN: '1.00', NOSALE: '1.00' };
/** What the simulator sells: NOSALE is not among them, so it rejects that buy. */
const SIM_PRICES = 'ABAN=4.00,BTC=50000.00,ETH=3000.00,RPOOL=1.00,RCANCEL=1.00,RCAN=1.00';
const API_ENV = {
  // Pools are bought when full, never by the clock, while the recorder runs.
  AGGREGATION_MAX_WAIT: '1h',
  // New accounts: orders from $20 are held for review.
  FRAUD_NEW_ACCOUNT_HOLD_TOTAL: '20.00',
  FRAUD_REVIEW_TIMEOUT: '1h',
  RATE_LIMIT_ENABLED: 'false',
};
/** The pool that continues-as-new: once its history passes this many events. */
const POOL_HISTORY_LIMIT = 20;

type User = Awaited<ReturnType<typeof fundedUser>>;
const recorded = new Map<RecordedHistory, string>();

async function record(temporal: Client, name: RecordedHistory, workflowId: string, runId?: string) {
  const handle = temporal.workflow.getHandle(workflowId, runId);
  // A pool runs on: record it between workflow tasks, so its history ends the same way each time.
  await eventually(
    () => handle.describe(),
    (description) => !description.raw.pendingWorkflowTask,
  );
  const history = await handle.fetchHistory();
  const json = historyToJson(history);
  recorded.set(name, `${JSON.stringify(withoutIdentities(json), null, 2)}\n`);
  console.log(`recorded ${name} (${history.events?.length ?? 0} events)`);
}

/** Drops the worker and client identities (pid@host) the server stores: replay never reads them. */
function withoutIdentities(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutIdentities);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== 'identity')
      .map(([key, v]) => [key, withoutIdentities(v)]),
  );
}

async function place(api: TestApi, user: User, crypto: string, amount: string): Promise<number> {
  const res = await api.call('POST', 'orders/', { token: user.access, body: { crypto, amount } });
  if (res.status !== 201)
    throw new Error(`placing ${amount} ${crypto}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as number;
}

/** Waits until the order's workflow has closed, and checks the state it ended in. */
async function closed(api: TestApi, user: User, id: number, state: string): Promise<void> {
  const order = await eventually(
    async () => {
      const { status } = await api.temporal.workflow.getHandle(orderWorkflowId(id)).describe();
      return status.name === 'RUNNING'
        ? undefined
        : (await api.call('GET', `orders/${id}/`, { token: user.access })).body;
    },
    (body) => body !== undefined,
    60_000,
  );
  if (order.state !== state) throw new Error(`order ${id} ended ${order.state}, expected ${state}`);
}

const poolView = (api: TestApi, crypto: string) =>
  api.temporal.workflow
    .getHandle(poolWorkflowId(crypto))
    .query(poolQuery)
    .catch(() => undefined);

async function untilPooled(api: TestApi, crypto: string, id: number): Promise<void> {
  await eventually(
    () => poolView(api, crypto),
    (view) => view?.orders.some((o) => o.orderId === id) === true,
  );
}

async function main(): Promise<void> {
  await startServices();
  const apis: TestApi[] = [];
  try {
    const simulatorEnv = { EXCHANGE_SIM_PRICES: SIM_PRICES };
    const api = await startApi({ worker: true, env: API_ENV, simulatorEnv });
    apis.push(api);
    for (const [name, price] of Object.entries(CRYPTOS)) await addCrypto(api.db, name, price);
    const admin = await login(api, ADMIN.username, ADMIN.password);
    const { temporal } = api;

    // $12: bought alone.
    const alone = await fundedUser(api, '100.00');
    const aloneId = await place(api, alone, 'ABAN', '3');
    await closed(api, alone, aloneId, 'completed');
    await record(temporal, 'order-bought-alone', orderWorkflowId(aloneId));

    // $4 waits in the pool; $6 fills it to the $10 threshold and one batch buys both.
    const pooled = await fundedUser(api, '100.00');
    const pooledId = await place(api, pooled, 'RPOOL', '4');
    await untilPooled(api, 'RPOOL', pooledId);
    const fillerId = await place(api, pooled, 'RPOOL', '6');
    await closed(api, pooled, pooledId, 'completed');
    await closed(api, pooled, fillerId, 'completed');
    await record(temporal, 'order-pooled', orderWorkflowId(pooledId));
    await record(temporal, 'pool-settled-batch', poolWorkflowId('RPOOL'));

    // $24 from a new account: held, approved by an admin, bought alone.
    const held = await fundedUser(api, '100.00');
    const heldId = await place(api, held, 'ABAN', '6');
    const approved = await api.call('POST', `admin/orders/${heldId}/approve/`, { token: admin });
    if (approved.status !== 200)
      throw new Error(`approve: ${approved.status} ${JSON.stringify(approved.body)}`);
    await closed(api, held, heldId, 'completed');
    await record(temporal, 'order-held-approved', orderWorkflowId(heldId));

    // $12 from a wallet holding $5: the debit refuses it, nothing moves, and the workflow ends at once.
    const poor = await fundedUser(api, '5.00');
    const refusal = await api.call('POST', 'orders/', {
      token: poor.access,
      body: { crypto: 'ABAN', amount: '3' },
    });
    if (refusal.status !== 422) throw new Error(`refusal: ${refusal.status} ${JSON.stringify(refusal.body)}`);
    const [placement] = await api.db.orm.em
      .fork()
      .execute<{ order_id: string }[]>(
        `select p.order_id from order_placements p join users u on u.id = p.user_id where u.username = ?`,
        [poor.username],
      );
    const refusedId = placement!.order_id;
    await eventually(
      () => temporal.workflow.getHandle(orderWorkflowId(Number(refusedId))).describe(),
      (d) => d.status.name === 'COMPLETED',
    );
    await record(temporal, 'order-refused', orderWorkflowId(Number(refusedId)));

    // $15 of a crypto the exchange does not sell: rejected by the exchange and refunded.
    const refunded = await fundedUser(api, '100.00');
    const refundedId = await place(api, refunded, 'NOSALE', '15');
    await closed(api, refunded, refundedId, 'failed');
    await record(temporal, 'order-refunded', orderWorkflowId(refundedId));

    // $4 waits in the pool and its owner cancels it there: the pool refunds it and settles the order.
    const canceller = await fundedUser(api, '100.00');
    const cancelledId = await place(api, canceller, 'RCANCEL', '4');
    await untilPooled(api, 'RCANCEL', cancelledId);
    const cancelled = await api.call('POST', `orders/${cancelledId}/cancel/`, { token: canceller.access });
    if (cancelled.status !== 200)
      throw new Error(`cancel: ${cancelled.status} ${JSON.stringify(cancelled.body)}`);
    await closed(api, canceller, cancelledId, 'cancelled');
    await record(temporal, 'order-cancelled-in-pool', orderWorkflowId(cancelledId));
    await record(temporal, 'pool-cancelled-order', poolWorkflowId('RCANCEL'));

    await recordContinuedPool(api);

    // A second API and worker whose reviews time out quickly: a held order nobody reviews.
    const impatient = await startApi({ worker: true, env: { ...API_ENV, FRAUD_REVIEW_TIMEOUT: '2s' } });
    apis.push(impatient);
    const forgotten = await fundedUser(impatient, '100.00');
    const forgottenId = await place(impatient, forgotten, 'ABAN', '6');
    await closed(impatient, forgotten, forgottenId, 'failed');
    await record(impatient.temporal, 'order-held-timed-out', orderWorkflowId(forgottenId));

    const missing = RECORDED_HISTORIES.filter((name) => !recorded.has(name));
    if (missing.length > 0) throw new Error(`not recorded: ${missing.join(', ')}`);
    await mkdir(HISTORIES_DIR, { recursive: true });
    for (const [name, json] of recorded) await writeFile(historyFile(name), json);
    console.log(`wrote ${recorded.size} histories to ${HISTORIES_DIR}`);
  } finally {
    for (const api of apis.reverse()) await api.close();
    await stopServices();
  }
}

/**
 * A pool started with a small history limit, so that it continues-as-new while orders arrive: $1
 * orders, one at a time, until it has continued-as-new twice (carrying the orders still waiting)
 * and a batch has been bought. The first two runs are recorded.
 */
async function recordContinuedPool(api: TestApi): Promise<void> {
  const { temporal } = api;
  const pool = await temporal.workflow.start(poolWorkflow, {
    args: [{ crypto: 'RCAN', threshold: '10.00', maxWaitMs: 3_600_000, historyLimit: POOL_HISTORY_LIMIT }],
    workflowId: poolWorkflowId('RCAN'),
    taskQueue: poolTaskQueue(api.env.TEMPORAL_TASK_QUEUE),
  });
  // Three buyers, so no one trips the fraud velocity rule.
  const buyers = [
    await fundedUser(api, '100.00'),
    await fundedUser(api, '100.00'),
    await fundedUser(api, '100.00'),
  ];
  const runs = async () => {
    const ids = [pool.firstExecutionRunId];
    for (;;) {
      const history = await temporal.workflow.getHandle(pool.workflowId, ids.at(-1)).fetchHistory();
      const last = history.events?.at(-1);
      const next = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (!next) return ids;
      ids.push(next);
    }
  };
  for (let i = 0; ; i++) {
    if (i >= 30) throw new Error('the pool did not continue-as-new and buy a batch within 30 orders');
    const buyer = buyers[i % buyers.length]!;
    const id = await place(api, buyer, 'RCAN', '1');
    await eventually(
      async () => {
        const row = await api.call('GET', `orders/${id}/`, { token: buyer.access });
        return (
          row.body.state === 'completed' ||
          (await poolView(api, 'RCAN'))?.orders.some((o) => o.orderId === id)
        );
      },
      (done) => done === true,
    );
    const view = await poolView(api, 'RCAN');
    if ((await runs()).length >= 3 && (view?.batches ?? 0) >= 1) break;
  }
  const [first, second] = await runs();
  await record(temporal, 'pool-continued-as-new-run-1', pool.workflowId, first);
  await record(temporal, 'pool-continued-as-new-run-2', pool.workflowId, second);
}

await main();
