import fc from 'fast-check';
import { orderWorkflow } from '../src/workflows/index.js';
import { orderStatusQuery, orderWorkflowId, type OrderStatus } from '../src/workflows/definitions.js';
import { deposit } from '../src/services/wallet.js';
import { reconcile } from '../src/services/ledger.js';
import { readUsd } from '../src/domain/money.js';
import { addCrypto, fundedUser, nextOrderId, startPipeline, type Pipeline } from './support/pipeline.js';

// Random deposits and orders of random sizes and cryptos through the real workflows (time-skipping
// server, real Postgres, simulator over HTTP); then every pool is flushed and the books are checked.
const SIM_PRICES = 'ABAN=4.00,BTC=50000.00,ETH=3000.00,Q1=1.00,Q2=0.50';

let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline({ simulatorEnv: { EXCHANGE_SIM_PRICES: SIM_PRICES } });
  await addCrypto(p.db, 'Q1', '1.00');
  await addCrypto(p.db, 'Q2', '0.50');
});
afterAll(async () => p?.close());

type Op =
  | { kind: 'deposit'; user: number; cents: bigint }
  | { kind: 'order'; user: number; crypto: string; amount: string };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('deposit' as const),
    user: fc.integer({ min: 0, max: 2 }),
    cents: fc.bigInt({ min: 1n, max: 5_000n }),
  }),
  fc.record({
    kind: fc.constant('order' as const),
    user: fc.integer({ min: 0, max: 2 }),
    crypto: fc.constantFrom('ABAN', 'Q1', 'Q2'),
    // 0.01 to 12.00 coins with up to two decimals: totals from a cent to about $48.
    amount: fc.integer({ min: 1, max: 1_200 }).map((hundredths) => (hundredths / 100).toFixed(2)),
  }),
);

const sql = <T>(query: string, params: unknown[] = []) => p.db.orm.em.fork().execute<T[]>(query, params);

it('orders end in exactly one state, batches add up, and every wallet equals its ledger', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
      const users = [
        await fundedUser(p.db, '20.00'),
        await fundedUser(p.db, '20.00'),
        await fundedUser(p.db, '20.00'),
      ];
      const placed: number[] = [];
      await p.withWorker(async () => {
        for (const o of ops) {
          if (o.kind === 'deposit') {
            await deposit(p.db.orm.em.fork(), users[o.user]!, o.cents);
            continue;
          }
          const orderId = await nextOrderId(p.db);
          const handle = await p.client.workflow.start(orderWorkflow, {
            args: [{ orderId, userId: users[o.user]!, crypto: o.crypto, amount: o.amount }],
            workflowId: orderWorkflowId(orderId),
            taskQueue: p.taskQueue,
          });
          placed.push(orderId);
          // One operation at a time: wait until the debit has committed or been refused.
          let status: OrderStatus;
          do status = await handle.query(orderStatusQuery);
          while (status.state === 'placing');
        }
        // Past the maximum wait every pool flushes; awaiting each result lets time skip there.
        await p.env.sleep('16 minutes');
        for (const id of placed) await p.client.workflow.getHandle(orderWorkflowId(id)).result();
      });

      const orders = await sql<{ id: string; state: string; total_price: string; batch_id: string | null }>(
        `select id, state, total_price, batch_id from orders where id = any(?::bigint[])`,
        [`{${placed.join(',')}}`],
      );
      // Every placed order is either refused (no row, no money moved) or ended completed/failed.
      for (const order of orders) expect(['completed', 'failed']).toContain(order.state);
      for (const order of orders) {
        const entries = await sql<{ type: string }>(
          'select type from transactions where order_id = ? order by id',
          [order.id],
        );
        expect(entries.map((e) => e.type)).toEqual(
          order.state === 'failed' ? ['withdrawal', 'refund'] : ['withdrawal'],
        );
        // A pooled order is bought through exactly one batch; a large one alone.
        if (order.state === 'completed')
          expect(order.batch_id !== null).toBe(readUsd(order.total_price) < 1000n);
      }
      const withoutRow = await sql<{ n: string }>(
        'select count(*) as n from transactions where order_id = any(?::bigint[]) and order_id not in (select id from orders)',
        [`{${placed.join(',')}}`],
      );
      expect(Number(withoutRow[0]!.n)).toBe(0);

      const batches = await sql<{
        id: string;
        orders_total: string;
        house_top_up: string;
        notional: string;
        sum: string;
      }>(
        `select b.id, b.orders_total, b.house_top_up, b.notional, coalesce(sum(o.total_price), 0) as sum
           from batches b left join orders o on o.batch_id = b.id group by b.id`,
      );
      for (const b of batches) {
        expect(readUsd(b.orders_total)).toBe(readUsd(b.sum));
        expect(readUsd(b.notional)).toBe(readUsd(b.orders_total) + readUsd(b.house_top_up));
        expect(readUsd(b.notional) >= 1000n).toBe(true);
      }
      // The exchange bought each batch and each large order exactly once.
      const fills = (await p.sim.fills()).map((f) => f.client_order_id);
      expect(new Set(fills).size).toBe(fills.length);
      for (const b of batches) expect(fills).toContain(b.id);
      expect((await reconcile(p.db.orm.em.fork())).mismatches).toEqual([]);
    }),
    { numRuns: 4 },
  );
  // Four runs of up to twelve operations through real workflows: about a minute on a slow two-core
  // machine, so more than the default 60 s.
}, 180_000);
