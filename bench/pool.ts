/**
 * The pool on its own, and how far behind it runs:
 *  - poolTaskQueue: the task queue the service's pool workflows run on;
 *  - pool-direct: a pool workflow fed by addOrder signal-with-start straight from a bench route, with
 *    no order workflows: the orders it buys are bulk-inserted first as the pool expects them
 *    (`aggregated`, no batch), so it opens, buys and completes real batches;
 *  - batch lag: from the database, for pooled orders, the order that filled a batch → batch opened →
 *    batch bought;
 *  - exchangeRoundTrip: one buy through the service's exchange driver against the simulator.
 */
import { poolTaskQueue as poolTaskQueueOf } from '../src/workflows/definitions.js';
import { createCcxtExchange } from '../src/exchange/ccxt-exchange.js';
import { exchangeOptions } from '../src/config/exchange.js';
import { poolQuery } from '../src/workflows/definitions.js';
import type { BenchContext, BaselineServer } from './baselines.js';
import type { Stack } from './stack.js';
import { failStep, judge, summarize, type LatencySummary, type StepResult } from './stats.js';

/** The bench's pooled orders: 0.5 ABAN at the seeded $4.00. */
export const POOLED_AMOUNT = '0.50000000';
export const POOLED_TOTAL = '2.00';

/** The pools' task queue, as the service names it (src/workflows/definitions.ts). */
export function poolTaskQueue(stack: Stack): { taskQueue: string; why: string } {
  return { taskQueue: poolTaskQueueOf(stack.env.TEMPORAL_TASK_QUEUE), why: "the service's pool task queue" };
}

/** Inserts `count` pooled ABAN orders of one user, already debited and waiting for a pool. */
export async function insertPooledOrders(stack: Stack, userId: number, count: number): Promise<number[]> {
  const { rows } = await stack.pool.query<{ id: string }>(
    `insert into orders (id, user_id, crypto_id, amount, price, total_price, state)
     select nextval('orders_id_seq'), $1, c.id, $3, 4.00, $4, 'aggregated'
       from generate_series(1, $2), crypto_currencies c where c.name = 'ABAN'
     returning id`,
    [userId, count, POOLED_AMOUNT, POOLED_TOTAL],
  );
  return rows.map((r) => Number(r.id)).sort((a, b) => a - b);
}

export interface PoolDirectStep extends StepResult {
  /** ms from the last acknowledged signal until every order was in the pool or in a batch. */
  queryLagMs: number | null;
  absorbed: number;
  /** ms from the last acknowledged signal until every full batch was bought. */
  drainMs: number | null;
  batches: number;
}

/** One step: `rate` addOrder signals/s into a fresh pool workflow for `seconds`. */
export async function poolDirectStep(
  ctx: BenchContext,
  server: BaselineServer,
  userId: number,
  rate: number,
  seconds: number,
  tag: string,
): Promise<PoolDirectStep> {
  const { stack } = ctx;
  const ids = await insertPooledOrders(stack, userId, Math.max(1, Math.round(rate * seconds)));
  const workflowId = `pool-direct-${ctx.stamp}-${tag}`;
  const { result, cpu } = await ctx.measure(() =>
    ctx.load.openLoop({
      origin: server.origin,
      rate,
      seconds,
      specs: ids.map((id) => ({ method: 'POST', path: `/pool/${workflowId}/${id}` })),
      timeoutMs: 30_000,
    }),
  );
  const judged = { ...judge(result, 200, ctx.criteria), cpu };
  const acked = result.samples.filter((s) => s.status === 200);
  const lastAck = Math.max(...acked.map((s) => s.at + s.latency));
  const handle = stack.baselineClient.workflow.getHandle(workflowId);
  const sent = ids.slice(0, result.samples.length);
  const batchedOf = async () => {
    const { rows } = await stack.pool.query<{ id: string; state: string }>(
      `select id, state from orders where id = any($1::bigint[]) and batch_id is not null`,
      [sent],
    );
    return rows;
  };
  let queryLagMs: number | null = null;
  let drainMs: number | null = null;
  let absorbed = 0;
  const deadline = Date.now() + 15_000;
  // Past the budget without the pool showing every order the step has failed: looking longer (or
  // waiting for the drain) only takes time from the search.
  const showBy = Math.max(Date.now(), lastAck + ctx.criteria.p99BudgetMs);
  while (Date.now() < deadline && drainMs === null) {
    if (queryLagMs === null && Date.now() > showBy) break;
    const view = await handle.query(poolQuery).catch(() => undefined);
    const batched = await batchedOf();
    if (view && queryLagMs === null) {
      const seen = new Set([...view.orders.map((o) => o.orderId), ...batched.map((r) => Number(r.id))]);
      absorbed = seen.size;
      if (absorbed >= judged.ok) queryLagMs = Math.round(Math.max(0, Date.now() - lastAck));
    }
    // Fewer than a batch's worth may stay pending until the max wait: that is not lag.
    const open = sent.length - batched.filter((r) => r.state === 'completed').length;
    if (queryLagMs !== null && open < 5) drainMs = Math.round(Math.max(0, Date.now() - lastAck));
    else await new Promise((r) => setTimeout(r, 25));
  }
  const { rows } = await stack.pool.query<{ n: string }>(
    `select count(distinct batch_id) as n from orders where id = any($1::bigint[])`,
    [sent],
  );
  await handle.terminate('bench step done').catch(() => undefined);
  const step: PoolDirectStep = { ...judged, queryLagMs, absorbed, drainMs, batches: Number(rows[0]?.n ?? 0) };
  if (queryLagMs === null || queryLagMs > ctx.criteria.p99BudgetMs) {
    const lag = queryLagMs ?? `>${ctx.criteria.p99BudgetMs}`;
    failStep(step, `pool shows ${absorbed}/${judged.ok} ${lag} ms after the last ack`);
  }
  return step;
}

export interface BatchLag {
  /** Batches bought because the pool reached the threshold. */
  full: number;
  /** Batches bought because the max wait ran out (house top-up): left out of the lag. */
  flushed: number;
  /** The last order of the batch committed (debit) → the batch row was inserted. */
  opened: LatencySummary;
  /** The last order of the batch committed → the batch was completed with its fill. */
  bought: LatencySummary;
}

/**
 * Batch lag of the batches holding these orders, from the database: orders.created_at of the batch's
 * latest order (its debit commit; the enqueue into the pool follows it and has no timestamp of its
 * own), batches.created_at (openBatch) and batches.updated_at of a completed batch (completeBatch).
 */
export async function batchLag(stack: Stack, orderIds: number[]): Promise<BatchLag> {
  const { rows } = await stack.pool.query<{
    flushed: boolean;
    opened_ms: string;
    bought_ms: string | null;
  }>(
    `select b.house_top_up > 0 as flushed,
            extract(epoch from b.created_at - max(o.created_at)) * 1000 as opened_ms,
            case when b.state = 'completed'
                 then extract(epoch from b.updated_at - max(o.created_at)) * 1000 end as bought_ms
       from batches b join orders o on o.batch_id = b.id
      where b.id in (select batch_id from orders where id = any($1::bigint[]) and batch_id is not null)
      group by b.id`,
    [orderIds],
  );
  const full = rows.filter((r) => !r.flushed);
  return {
    full: full.length,
    flushed: rows.length - full.length,
    opened: summarize(full.map((r) => Number(r.opened_ms))),
    bought: summarize(full.filter((r) => r.bought_ms !== null).map((r) => Number(r.bought_ms))),
  };
}

/** Sequential buys through the service's exchange driver against the simulator: ms per round trip. */
export async function exchangeRoundTrip(stack: Stack, count = 10): Promise<LatencySummary> {
  const exchange = createCcxtExchange(exchangeOptions({ ...stack.env, EXCHANGE_URL: stack.simulatorOrigin }));
  const buy = (i: number) =>
    exchange.buy({
      clientOrderId: `rtt-${process.pid}-${Date.now()}-${i}`,
      crypto: 'ABAN',
      notional: '10.00',
    });
  await buy(-1); // markets and connections
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await buy(i);
    times.push(performance.now() - start);
  }
  return summarize(times);
}
