import type { temporal } from '@temporalio/proto';
import { fundedUser, eventually, startApi, type TestApi } from './support/api.js';
import { orderWorkflowId, poolWorkflowId } from '../src/workflows/definitions.js';

// A pooled order's workflow hears how its batch ended from its debit's activity, which watches the
// order's events for POOL_SETTLE_WAIT, or else from the pool's signal; the pool signals only the
// orders handed to it (orders.pool_signals). Real API, worker, Temporal dev server and Postgres;
// ABAN costs $4.00, and the pool buys at $10.00.

let api: TestApi;
beforeAll(async () => {
  api = await startApi({ worker: true, env: { POOL_SETTLE_WAIT: '3s', POOL_FEED_LINGER: '0ms' } });
});
afterAll(async () => api?.close());

async function place(token: string, amount: string): Promise<number> {
  const res = await api.call('POST', 'orders/', { token, body: { crypto: 'ABAN', amount } });
  expect([res.status, res.body.state]).toEqual([201, 'aggregated']);
  return res.body.id as number;
}

const row = async (id: number) =>
  (
    await api.db.orm.em
      .fork()
      .execute<{ state: string; batch_id: string | null; pool_signals: boolean }[]>(
        'select state, batch_id, pool_signals from orders where id = ?',
        [id],
      )
  )[0]!;

const history = async (workflowId: string): Promise<temporal.api.history.v1.IHistoryEvent[]> =>
  (await api.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];

const signalsTo = async (id: number) =>
  (await history(orderWorkflowId(id))).filter((e) => e.workflowExecutionSignaledEventAttributes).length;

/** How many times the pool ran settleOrders (a local activity: a marker in its history). */
async function settleOrdersRuns(): Promise<number> {
  const markers = (await history(poolWorkflowId('ABAN'))).flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity') return [];
    return [JSON.parse(Buffer.from(marker.details!.data!.payloads![0]!.data!).toString())];
  });
  return markers.filter((m: { activity_type?: string }) => m.activity_type === 'settleOrders').length;
}

it('orders whose batch is bought while their debits watch end without a signal from the pool', async () => {
  const { access } = await fundedUser(api, '100.00');
  // $6 waits; $4 fills the pool within the first order's watch.
  const first = await place(access, '1.5');
  const second = await place(access, '1');
  for (const id of [first, second]) {
    const result = await api.temporal.workflow.getHandle(orderWorkflowId(id)).result();
    expect(result).toMatchObject({ orderId: id, state: 'completed', batchId: expect.any(String) });
    expect(await row(id)).toEqual({ state: 'completed', batch_id: result.batchId, pool_signals: false });
    expect(await signalsTo(id)).toBe(0);
  }
  // Nothing to signal: the pool ran no settleOrders.
  expect(await settleOrdersRuns()).toBe(0);
});

it('an order whose watch ran out is handed to the pool, which signals it alone', async () => {
  const { access } = await fundedUser(api, '100.00');
  const runs = await settleOrdersRuns();
  const waiting = await place(access, '1.5');
  // The watch runs out (3 s): the order waits for the signal, as its row says.
  await eventually(
    () => row(waiting),
    (r) => r.pool_signals,
    10_000,
  );
  const filler = await place(access, '1');
  const [late, quick] = await Promise.all(
    [waiting, filler].map((id) => api.temporal.workflow.getHandle(orderWorkflowId(id)).result()),
  );
  expect(late).toMatchObject({ state: 'completed', batchId: quick!.batchId });
  expect(quick).toMatchObject({ state: 'completed' });
  expect(await signalsTo(waiting)).toBe(1);
  expect(await signalsTo(filler)).toBe(0);
  expect(await row(filler)).toMatchObject({ state: 'completed', pool_signals: false });
  expect(await settleOrdersRuns()).toBe(runs + 1);
});
