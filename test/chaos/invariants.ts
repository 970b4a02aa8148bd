/**
 * What must hold after any fault, checked against the database (SQL), the exchange simulator's
 * fills (the witness of what was really bought) and what the API answered the load generator.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { openOrm } from '../../src/db/orm.js';
import { reconcile } from '../../src/services/ledger.js';
import { formatUsd, readQuantity, readUsd } from '../../src/domain/money.js';
import type { ChaosStack, SimFill } from './harness.js';
import type { LogicalOrder } from './load.js';

/** The exchange minimum and pooling threshold (the worker's AGGREGATION_THRESHOLD default). */
const MINIMUM = readUsd('10.00');
/** The quote amount an order asked for, which the simulator lists with 8 places, in cents. */
const askedCents = (fill: SimFill) => readQuantity(fill.notional) / 1_000_000n;
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

export interface InvariantResult {
  name: string;
  ok: boolean;
  /** How many things were checked (orders, batches, fills, wallets…). */
  checked: number;
  violations: string[];
}

export interface SettleReport {
  settled: boolean;
  waitedMs: number;
  /** Orders still `aggregated` that their pool workflow holds (legitimately waiting). */
  pooled: number[];
  /** Orders neither terminal nor pooled, open batches, order workflows still running. */
  stuck: string[];
}

interface OrderRow {
  id: string;
  user_id: number;
  crypto: string;
  state: string;
  total_price: string;
  batch_id: string | null;
  exchange_order_id: string | null;
  fraud_rule: string | null;
  failure_reason: string | null;
}

const ORDERS = `select o.id, o.user_id, c.name as crypto, o.state, o.total_price, o.batch_id, o.exchange_order_id,
  o.fraud_rule, o.failure_reason from orders o join crypto_currencies c on c.id = o.crypto_id order by o.id`;

async function query<T>(stack: ChaosStack, text: string, params: unknown[] = []): Promise<T[]> {
  return (await stack.sql.query(text, params)).rows as T[];
}

async function one<T>(stack: ChaosStack, text: string): Promise<T> {
  const [row] = await query<T>(stack, text);
  if (!row) throw new Error(`no row: ${text}`);
  return row;
}

async function runningOrderWorkflows(stack: ChaosStack): Promise<string[] | undefined> {
  try {
    const ids: string[] = [];
    const list = stack.temporal.workflow.list({
      query: `WorkflowType = 'orderWorkflow' AND ExecutionStatus = 'Running'`,
    });
    for await (const wf of list) ids.push(wf.workflowId);
    return ids;
  } catch {
    return undefined;
  }
}

/**
 * Polls until every order is terminal, no batch is open and no order workflow still runs, or
 * `timeoutMs` passes; then classifies what is left: an `aggregated` order its pool workflow holds
 * is legitimately waiting, anything else is stuck.
 */
export async function waitForSettled(
  stack: ChaosStack,
  { timeoutMs = 90_000, pollMs = 1_000 }: { timeoutMs?: number; pollMs?: number } = {},
): Promise<SettleReport> {
  const began = Date.now();
  for (;;) {
    let open: OrderRow[] = [];
    let batches: { id: string }[] = [];
    let running: string[] | undefined;
    try {
      open = await query<OrderRow>(
        stack,
        `select * from (${ORDERS}) o where o.state not in ('completed', 'failed', 'cancelled')`,
      );
      batches = await query<{ id: string }>(stack, `select id from batches where state = 'open'`);
      running = await runningOrderWorkflows(stack);
    } catch {
      // a transient error: poll again
    }
    const quiet = open.length === 0 && batches.length === 0 && running !== undefined && running.length === 0;
    if (quiet) return { settled: true, waitedMs: Date.now() - began, pooled: [], stuck: [] };
    if (Date.now() - began > timeoutMs) {
      const pooled: number[] = [];
      const stuck: string[] = [];
      const pools = new Map<string, Set<number>>();
      for (const crypto of new Set(open.map((o) => o.crypto))) {
        const view = await stack.pool(crypto);
        pools.set(crypto, new Set(view?.orders.map((o) => o.orderId) ?? []));
      }
      for (const o of open) {
        const id = Number(o.id);
        if (o.state === 'aggregated' && o.batch_id === null && pools.get(o.crypto)?.has(id)) pooled.push(id);
        else stuck.push(`order ${id} ${o.state} batch=${o.batch_id ?? '-'} (not in its pool)`);
      }
      for (const b of batches) stuck.push(`batch ${b.id} still open`);
      const terminal = new Set(
        (
          await query<{ id: string }>(
            stack,
            `select id from orders where state in ('completed', 'failed', 'cancelled')`,
          )
        ).map((r) => `order-${r.id}`),
      );
      for (const id of running ?? []) if (terminal.has(id)) stuck.push(`workflow ${id} still running`);
      if (running === undefined) stuck.push('could not list running order workflows');
      return { settled: false, waitedMs: Date.now() - began, pooled, stuck };
    }
    await sleep(pollMs);
  }
}

const result = (name: string, checked: number, violations: string[]): InvariantResult => ({
  name,
  ok: violations.length === 0,
  checked,
  violations,
});

/** Every invariant; `settle` and `load` add the settling and the API-answer checks. */
export async function checkInvariants(
  stack: ChaosStack,
  { settle, load }: { settle?: SettleReport; load?: LogicalOrder[] } = {},
): Promise<InvariantResult[]> {
  const results: InvariantResult[] = [];
  const orders = await query<OrderRow>(stack, ORDERS);
  const byId = new Map(orders.map((o) => [Number(o.id), o]));
  const ledger = await query<{
    order_id: string;
    type: string;
    n: string;
    total: string;
    wrong_user: string;
  }>(
    stack,
    `select t.order_id, t.type, count(*) as n, sum(t.amount) as total,
            count(*) filter (where w.user_id <> o.user_id) as wrong_user
       from transactions t join wallets w on w.id = t.wallet_id join orders o on o.id = t.order_id
      group by t.order_id, t.type`,
  );
  const entries = new Map<string, { n: number; total: bigint; wrongUser: number }>();
  for (const r of ledger) {
    entries.set(`${r.order_id}:${r.type}`, {
      n: Number(r.n),
      total: readUsd(r.total),
      wrongUser: Number(r.wrong_user),
    });
  }
  const batches = await query<{
    id: string;
    crypto: string;
    state: string;
    orders_total: string;
    house_top_up: string;
    notional: string;
    order_count: number;
    exchange_order_id: string | null;
    sum_orders: string;
    n_orders: string;
    states: string[];
  }>(
    stack,
    `select b.id, c.name as crypto, b.state, b.orders_total, b.house_top_up, b.notional, b.order_count,
            b.exchange_order_id, coalesce(sum(o.total_price), 0)::text as sum_orders, count(o.id) as n_orders,
            coalesce(array_agg(distinct o.state) filter (where o.id is not null), '{}') as states
       from batches b join crypto_currencies c on c.id = b.crypto_id left join orders o on o.batch_id = b.id
      group by b.id, c.name order by b.created_at`,
  );
  const batchById = new Map(batches.map((b) => [b.id, b]));
  const fills = await stack.fills();

  // 0. Settled: nothing left half-way.
  if (settle) {
    results.push(result('settled', orders.length, settle.stuck));
  }

  // 1-2. Each order debited exactly once; refunded once iff failed (after its debit) or cancelled.
  {
    const debit: string[] = [];
    const refund: string[] = [];
    for (const o of orders) {
      const total = readUsd(o.total_price);
      const w = entries.get(`${o.id}:withdrawal`);
      const r = entries.get(`${o.id}:refund`);
      const rejected = o.state === 'failed' && o.fraud_rule !== null; // refused by the fraud rules: no money moved
      const wantWithdrawals = rejected ? 0 : 1;
      if ((w?.n ?? 0) !== wantWithdrawals || (w && w.total !== total)) {
        debit.push(
          `order ${o.id} (${o.state}, ${o.total_price}): ${w?.n ?? 0} withdrawal(s) totalling ${formatUsd(w?.total ?? 0n)}`,
        );
      }
      const wantRefunds = (o.state === 'failed' && !rejected) || o.state === 'cancelled' ? 1 : 0;
      if ((r?.n ?? 0) !== wantRefunds || (r && r.total !== total)) {
        refund.push(
          `order ${o.id} (${o.state}, ${o.total_price}): ${r?.n ?? 0} refund(s) totalling ${formatUsd(r?.total ?? 0n)}`,
        );
      }
      if ((w?.wrongUser ?? 0) + (r?.wrongUser ?? 0) > 0)
        debit.push(`order ${o.id}: a ledger row on another user's wallet`);
    }
    results.push(result('debited exactly once', orders.length, debit));
    results.push(result('refunded iff failed or cancelled', orders.length, refund));
  }

  // 3. No debit without an order row, nor the reverse (the reverse is part of 1).
  {
    const orphans = await query<{ id: string; type: string; order_id: string | null }>(
      stack,
      `select t.id, t.type, t.order_id from transactions t
        where (t.type = 'refund' and t.order_id is null)
           or (t.order_id is not null and not exists (select 1 from orders o where o.id = t.order_id))`,
    );
    const { n } = await one<{ n: string }>(stack, `select count(*) as n from transactions`);
    results.push(
      result(
        'no ledger row without its order',
        Number(n),
        orphans.map((t) => `transaction ${t.id} (${t.type}) for order ${t.order_id ?? 'none'}`),
      ),
    );
  }

  // 4. Each exchange client order id executed at most once; every completed order bought exactly once.
  {
    const violations: string[] = [];
    const fillsById = new Map<string, SimFill[]>();
    for (const f of fills) fillsById.set(f.client_order_id, [...(fillsById.get(f.client_order_id) ?? []), f]);
    for (const [id, list] of fillsById)
      if (list.length > 1) violations.push(`${id} executed ${list.length} times`);
    for (const o of orders) {
      if (o.state !== 'completed') continue;
      const clientId = o.batch_id ?? `order-${o.id}`;
      const got = fillsById.get(clientId) ?? [];
      if (got.length !== 1) {
        violations.push(`completed order ${o.id}: ${got.length} fill(s) for ${clientId}`);
        continue;
      }
      const fill = got[0]!;
      if (fill.exchange_order_id !== o.exchange_order_id) {
        violations.push(
          `order ${o.id}: exchange_order_id ${o.exchange_order_id} but the fill is ${fill.exchange_order_id}`,
        );
      }
      if (o.batch_id === null && askedCents(fill) !== readUsd(o.total_price)) {
        violations.push(`order ${o.id}: total ${o.total_price} but bought for ${fill.notional}`);
      }
    }
    for (const b of batches) {
      if (b.state !== 'completed') continue;
      const got = fillsById.get(b.id) ?? [];
      if (got.length !== 1) violations.push(`completed batch ${b.id}: ${got.length} fill(s)`);
      else if (askedCents(got[0]!) !== readUsd(b.notional)) {
        violations.push(`batch ${b.id}: notional ${b.notional} but bought for ${got[0]!.notional}`);
      }
    }
    results.push(result('bought exactly once', fills.length, violations));
  }

  // 5. Nothing bought that was not sold: every fill is a completed order or a completed batch.
  {
    const violations: string[] = [];
    for (const f of fills) {
      const direct = /^order-(\d+)$/.exec(f.client_order_id);
      if (direct) {
        const o = byId.get(Number(direct[1]));
        if (!o) violations.push(`fill ${f.client_order_id} (${f.notional}): no such order`);
        else if (o.batch_id !== null)
          violations.push(`fill ${f.client_order_id}: the order was pooled in ${o.batch_id}`);
        else if (o.state !== 'completed') {
          violations.push(
            `fill ${f.client_order_id} (${f.notional}) but the order is ${o.state}` +
              (o.failure_reason ? ` ("${o.failure_reason}")` : '') +
              (o.state === 'failed' ? ': bought AND refunded' : ''),
          );
        }
        continue;
      }
      const b = batchById.get(f.client_order_id);
      if (!b) violations.push(`fill ${f.client_order_id} (${f.notional}): no such order or batch`);
      else if (b.state !== 'completed') {
        violations.push(
          `fill ${f.client_order_id} (${f.notional}) but the batch is ${b.state}` +
            (b.state === 'failed' ? ': bought AND refunded' : ''),
        );
      }
    }
    results.push(result('no fill without a completed purchase', fills.length, violations));
  }

  // 6. Batch arithmetic and batch/order agreement.
  {
    const violations: string[] = [];
    for (const b of batches) {
      const ordersTotal = readUsd(b.orders_total);
      const topUp = readUsd(b.house_top_up);
      if (readUsd(b.notional) !== ordersTotal + topUp) {
        violations.push(`batch ${b.id}: notional ${b.notional} ≠ ${b.orders_total} + ${b.house_top_up}`);
      }
      if (ordersTotal !== readUsd(b.sum_orders)) {
        violations.push(`batch ${b.id}: orders_total ${b.orders_total} ≠ sum of its orders ${b.sum_orders}`);
      }
      if (b.order_count !== Number(b.n_orders)) {
        violations.push(`batch ${b.id}: order_count ${b.order_count} but ${b.n_orders} orders`);
      }
      const wantTopUp = ordersTotal < MINIMUM ? MINIMUM - ordersTotal : 0n;
      if (topUp !== wantTopUp)
        violations.push(`batch ${b.id}: house_top_up ${b.house_top_up}, expected ${formatUsd(wantTopUp)}`);
      if (b.state !== 'open' && (b.states.length !== 1 || b.states[0] !== b.state)) {
        violations.push(`batch ${b.id} is ${b.state} but its orders are ${b.states.join('/') || 'none'}`);
      }
    }
    for (const o of orders) {
      if (o.batch_id !== null && !batchById.has(o.batch_id))
        violations.push(`order ${o.id}: unknown batch ${o.batch_id}`);
      if (o.batch_id !== null && o.crypto !== batchById.get(o.batch_id)?.crypto) {
        violations.push(`order ${o.id} (${o.crypto}) in batch ${o.batch_id} of another crypto`);
      }
    }
    results.push(result('batch sums', batches.length, violations));
  }

  // 7. Every wallet equals the sum of its ledger.
  {
    const orm = await openOrm({ databaseUrl: stack.databaseUrl, poolSize: 1 });
    try {
      const { wallets, mismatches, house } = await reconcile(orm.em.fork());
      results.push(
        result(
          'wallets reconcile',
          wallets,
          mismatches.map(
            (m) => `wallet ${m.wallet_id} (user ${m.user_id}): balance ${m.balance}, ledger ${m.ledger_sum}`,
          ),
        ),
      );
      results.push(
        result(
          'purchases reconcile with the house',
          house.purchases,
          house.failures.map((f) => `${f.purchase}: ${f.check}: expected ${f.expected}, got ${f.actual}`),
        ),
      );
    } finally {
      await orm.close();
    }
  }

  // 7b. Every execution the exchange witnessed is recorded once, with the figures it reported.
  {
    const violations: string[] = [];
    const recorded = new Map(
      (
        await query<{
          client_order_id: string;
          exchange_order_id: string;
          quote_spent: string;
          quantity: string;
          commission: string;
        }>(
          stack,
          `select client_order_id, exchange_order_id, quote_spent::text, quantity::text, commission::text
             from exchange_purchases`,
        )
      ).map((r) => [r.client_order_id, r]),
    );
    const executed = new Set<string>();
    for (const fill of fills) {
      executed.add(fill.client_order_id);
      const row = recorded.get(fill.client_order_id);
      if (!row) continue; // an execution nobody recorded is caught by the fill checks above
      const same =
        row.exchange_order_id === fill.exchange_order_id &&
        readQuantity(row.quote_spent) === readQuantity(fill.quote_spent) &&
        readQuantity(row.quantity) === readQuantity(fill.quantity) &&
        readQuantity(row.commission) === readQuantity(fill.commission);
      if (!same)
        violations.push(
          `${fill.client_order_id}: exchange ${fill.exchange_order_id} spent ${fill.quote_spent} for ${fill.quantity}, recorded ${row.exchange_order_id} ${row.quote_spent} for ${row.quantity}`,
        );
    }
    for (const id of recorded.keys())
      if (!executed.has(id)) violations.push(`${id}: recorded but never executed by the exchange`);
    results.push(result('purchases match the exchange', recorded.size, violations));
  }

  // 8. Money conservation: deposits = balances + (withdrawals − refunds); what was kept = what was sold.
  {
    const violations: string[] = [];
    const sums = new Map(
      (
        await query<{ type: string; total: string }>(
          stack,
          `select type, sum(amount)::text as total from transactions group by type`,
        )
      ).map((r) => [r.type, readUsd(r.total)]),
    );
    const { total: balanceText } = await one<{ total: string }>(
      stack,
      `select coalesce(sum(balance), 0)::text as total from wallets`,
    );
    const deposits = sums.get('deposit') ?? 0n;
    const withdrawals = sums.get('withdrawal') ?? 0n;
    const refunds = sums.get('refund') ?? 0n;
    const balances = readUsd(balanceText);
    if (deposits !== balances + withdrawals - refunds) {
      violations.push(
        `deposits ${formatUsd(deposits)} ≠ balances ${formatUsd(balances)} + withdrawals ${formatUsd(withdrawals)} − refunds ${formatUsd(refunds)}`,
      );
    }
    const { total: orderWithdrawalsText } = await one<{ total: string }>(
      stack,
      `select coalesce(sum(amount), 0)::text as total from transactions where type = 'withdrawal' and order_id is not null`,
    );
    const kept = readUsd(orderWithdrawalsText) - refunds;
    const sold = orders.filter((o) => o.state !== 'failed').reduce((a, o) => a + readUsd(o.total_price), 0n);
    if (kept !== sold) {
      violations.push(
        `order debits − refunds = ${formatUsd(kept)} but the orders not failed total ${formatUsd(sold)}`,
      );
    }
    results.push(result('money conserved', sums.size, violations));
  }

  // 9. What the API answered agrees with the database: one order per logical order, no second one.
  if (load) {
    const violations: string[] = [];
    const keys = new Map(
      (
        await query<{ user_id: number; key: string; order_id: string | null }>(
          stack,
          `select user_id, key, order_id from idempotency_keys where scope = 'order'`,
        )
      ).map((k) => [`${k.user_id}:${k.key}`, k.order_id === null ? undefined : Number(k.order_id)]),
    );
    const seenIds = new Map<number, string>();
    const keyed = new Set<number>();
    for (const k of keys.values()) if (k !== undefined) keyed.add(k);
    for (const l of load) {
      const reserved = keys.get(`${l.userId}:${l.key}`);
      if (l.outcome === 'placed') {
        const id = l.order!.id;
        const o = byId.get(id);
        if (seenIds.has(id)) violations.push(`${l.key} and ${seenIds.get(id)} both answered order ${id}`);
        seenIds.set(id, l.key);
        if (!o) violations.push(`${l.key}: answered 201 order ${id}, which does not exist`);
        else if (o.user_id !== l.userId)
          violations.push(`${l.key}: order ${id} belongs to user ${o.user_id}`);
        else if (
          readUsd(o.total_price) !== readUsd(l.expectedTotal) ||
          l.order!.total_price !== l.expectedTotal
        ) {
          violations.push(
            `${l.key}: order ${id} costs ${o.total_price}, answered ${l.order!.total_price}, expected ${l.expectedTotal}`,
          );
        }
        if (reserved !== id) violations.push(`${l.key}: answered order ${id} but the key holds ${reserved}`);
      } else if (l.outcome === 'refused') {
        if (l.status === 409) violations.push(`${l.key}: 409 ${l.code} for a retry of the same request`);
        const o = reserved === undefined ? undefined : byId.get(reserved);
        if (o && !(o.state === 'failed' && o.fraud_rule !== null)) {
          violations.push(`${l.key}: refused (${l.status} ${l.code}) yet order ${o.id} exists (${o.state})`);
        }
      } else if (l.outcome === 'in-flight') {
        violations.push(`${l.key}: still in flight`);
      }
    }
    const loadUsers = new Set(load.map((l) => l.userId));
    for (const o of orders) {
      if (loadUsers.has(o.user_id) && !keyed.has(Number(o.id))) {
        violations.push(
          `order ${o.id} (user ${o.user_id}) was created without any Idempotency-Key of the load`,
        );
      }
    }
    results.push(result('API answers match the database', load.length, violations));
  }

  return results;
}

/** Counts of orders by state (and of batches), for the summary. */
export async function tally(stack: ChaosStack) {
  const orders = await query<{ state: string; route: string; n: string }>(
    stack,
    `select state, case when batch_id is null and total_price >= 10 then 'alone' else 'pooled' end as route,
            count(*) as n from orders group by 1, 2 order by 1, 2`,
  );
  const batches = await query<{ state: string; n: string; top_up: string }>(
    stack,
    `select state, count(*) as n, sum(house_top_up)::text as top_up from batches group by 1 order by 1`,
  );
  const fills = (await stack.fills()).length;
  return {
    orders: Object.fromEntries(orders.map((r) => [`${r.state}/${r.route}`, Number(r.n)])),
    terminal: orders.filter((r) => TERMINAL.has(r.state)).reduce((a, r) => a + Number(r.n), 0),
    batches: Object.fromEntries(
      batches.map((r) => [r.state, { count: Number(r.n), house_top_up: r.top_up }]),
    ),
    fills,
  };
}

export function formatResults(results: InvariantResult[], maxLines = 15): string {
  return results
    .map((r) => {
      const head = `${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.checked} checked${r.ok ? '' : `, ${r.violations.length} violation(s)`})`;
      const lines = r.violations.slice(0, maxLines).map((v) => `       - ${v}`);
      if (r.violations.length > maxLines) lines.push(`       … ${r.violations.length - maxLines} more`);
      return [head, ...lines].join('\n');
    })
    .join('\n');
}
