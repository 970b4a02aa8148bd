import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { sqlOf } from '../db/kysely.js';
import { isoTime } from '../db/values.js';
import { formatQuantity, readQuantity, readUsd } from '../domain/money.js';
import {
  cashIdentity,
  centsToUnits,
  cryptoIdentity,
  feeIn,
  type HouseCheck,
  type HouseEntryKind,
  type IdentityCheck,
} from '../domain/house.js';
import { toPage, type Page } from './pagination.js';

export interface HousePosition {
  asset: string;
  quantity: string;
}

export interface UnvaluedFee {
  purchase: string;
  asset: string;
  quantity: string;
}

/** The house account as a whole: Σ amount (USD) and Σ quantity per asset. */
export interface HouseSummary {
  balance: string;
  positions: HousePosition[];
}

export async function houseSummary(em: EntityManager): Promise<HouseSummary> {
  const db = sqlOf(em);
  const balance = await db
    .selectFrom('house_entries')
    .select(sql<string>`coalesce(sum(amount), 0)::text`.as('balance'))
    .executeTakeFirstOrThrow();
  const positions = await db
    .selectFrom('house_entries')
    .select((q) => ['asset', q.fn.sum<string>('quantity').as('quantity')])
    .where('quantity', 'is not', null)
    .groupBy('asset')
    .orderBy('asset')
    .execute();
  return {
    balance: formatQuantity(readQuantity(balance.balance)),
    positions: positions.map((p) => ({ asset: p.asset, quantity: formatQuantity(readQuantity(p.quantity)) })),
  };
}

/** Fees charged in an asset that is neither the crypto nor the quote: a quantity with no USD value. */
export async function unvaluedFees(em: EntityManager): Promise<UnvaluedFee[]> {
  const rows = await sqlOf(em)
    .selectFrom('house_entries as e')
    .innerJoin('exchange_purchases as p', 'p.client_order_id', 'e.purchase_id')
    .innerJoin('crypto_currencies as c', 'c.id', 'p.crypto_id')
    .select(['e.purchase_id', 'e.asset', 'e.quantity'])
    .where('e.kind', '=', 'fee')
    .where('e.quantity', 'is not', null)
    .whereRef('e.asset', '<>', 'c.name')
    .orderBy('e.id')
    .execute();
  return rows.map((r) => ({
    purchase: r.purchase_id,
    asset: r.asset,
    quantity: formatQuantity(readQuantity(r.quantity!)),
  }));
}

export interface HouseEntryView {
  id: number;
  purchase: string;
  kind: HouseEntryKind;
  asset: string;
  amount: string;
  quantity: string | null;
  created_at: string;
}

/** The house's entries, newest first; `cursor` is the id of the last entry of the previous page. */
export async function listHouseEntries(
  em: EntityManager,
  limit: number,
  cursor?: number,
): Promise<Page<HouseEntryView>> {
  const rows = await sqlOf(em)
    .selectFrom('house_entries')
    .select(['id', 'purchase_id', 'kind', 'asset', 'amount', 'quantity', 'created_at'])
    .$if(cursor !== undefined, (q) => q.where('id', '<', cursor!))
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  const view = (r: (typeof rows)[number]): HouseEntryView => ({
    // bigint ids arrive as text
    id: Number(r.id),
    purchase: r.purchase_id,
    kind: r.kind,
    asset: r.asset,
    amount: formatQuantity(readQuantity(r.amount)),
    quantity: r.quantity === null ? null : formatQuantity(readQuantity(r.quantity)),
    created_at: isoTime(r.created_at),
  });
  return toPage(rows, limit, view, (item) => item.id);
}

/** One failed check: which purchase (and order), which check, what it should be and what it is. */
export interface HouseFailure {
  purchase: string;
  order_id: number | null;
  check: HouseCheck;
  expected: string;
  actual: string;
}

interface PurchaseRow {
  client_order_id: string;
  crypto: string;
  orders_total: string;
  orders_amount: string;
  recorded: string | null;
  symbol: string | null;
  quote_asked: string | null;
  quote_spent: string | null;
  quantity: string | null;
  commission: string | null;
  commission_asset: string | null;
  cash_amounts: string;
  crypto_quantities: string;
}

// Every completed purchase: an order bought alone (its client order id) or a completed batch, with
// what its completed orders add up to and what was recorded for it.
const COMPLETED_PURCHASES = `
with subjects as (
  select 'order-' || o.id as client_order_id, c.name as crypto,
         o.total_price as orders_total, o.amount as orders_amount,
         (select p.client_order_id from exchange_purchases p where p.order_id = o.id) as recorded
    from orders o join crypto_currencies c on c.id = o.crypto_id
   where o.state = 'completed' and o.batch_id is null
  union all
  select b.id, c.name,
         coalesce(sum(o.total_price), 0), coalesce(sum(o.amount), 0),
         (select p.client_order_id from exchange_purchases p where p.batch_id = b.id)
    from batches b join crypto_currencies c on c.id = b.crypto_id
    left join orders o on o.batch_id = b.id and o.state = 'completed'
   where b.state = 'completed'
   group by b.id, c.name
)
select s.client_order_id, s.crypto, s.orders_total::text, s.orders_amount::text, s.recorded,
       p.symbol, p.quote_asked::text, p.quote_spent::text, p.quantity::text, p.commission::text,
       p.commission_asset,
       (select coalesce(sum(e.amount), 0) from house_entries e
         where e.purchase_id = p.client_order_id and e.quantity is null)::text as cash_amounts,
       (select coalesce(sum(e.quantity), 0) from house_entries e
         where e.purchase_id = p.client_order_id and e.asset = s.crypto
           and e.quantity is not null)::text as crypto_quantities
  from subjects s left join exchange_purchases p on p.client_order_id = s.recorded
 order by s.client_order_id`;

// Completed orders that do not belong to exactly one recorded purchase (alone or through their batch).
const ORDERS_NOT_IN_ONE_PURCHASE = `
select o.id::text as id, coalesce(o.batch_id, 'order-' || o.id) as purchase, n.purchases::text as purchases
  from orders o,
  lateral (select (select count(*) from exchange_purchases p where p.order_id = o.id)
                + (select count(*) from exchange_purchases p
                    where o.batch_id is not null and p.batch_id = o.batch_id) as purchases) n
 where o.state = 'completed' and n.purchases <> 1
 order by o.id`;

const units = (value: bigint) => formatQuantity(value);

function identityFailure(purchase: string, check: HouseCheck, result: IdentityCheck): HouseFailure[] {
  return result.expected === result.actual
    ? []
    : [{ purchase, order_id: null, check, expected: units(result.expected), actual: units(result.actual) }];
}

function checkPurchase(row: PurchaseRow): HouseFailure[] {
  const purchase = row.client_order_id;
  if (row.recorded === null)
    return [
      {
        purchase,
        order_id: null,
        check: 'purchase_recorded',
        expected: 'a row in exchange_purchases',
        actual: 'none',
      },
    ];
  const quoteSpent = readQuantity(row.quote_spent!);
  const quantity = readQuantity(row.quantity!);
  const commission = readQuantity(row.commission!);
  const [baseAsset = '', quoteAsset = ''] = row.symbol!.split('/');
  const where = feeIn({
    baseAsset,
    quoteAsset,
    commissionAsset: row.commission_asset!,
  });
  const asked = centsToUnits(readUsd(row.quote_asked!));
  return [
    ...identityFailure(
      purchase,
      'cash_identity',
      cashIdentity({
        ordersTotal: readUsd(row.orders_total),
        quoteSpent,
        cashAmounts: readQuantity(row.cash_amounts),
        commission,
        feeIn: where,
      }),
    ),
    ...identityFailure(
      purchase,
      'crypto_identity',
      cryptoIdentity({
        quantity,
        commission,
        feeIn: where,
        ordersAmount: readQuantity(row.orders_amount),
        cryptoQuantities: readQuantity(row.crypto_quantities),
      }),
    ),
    ...(quoteSpent > asked
      ? [
          {
            purchase,
            order_id: null,
            check: 'quote_spent_within_asked' as const,
            expected: `at most ${units(asked)}`,
            actual: units(quoteSpent),
          },
        ]
      : []),
  ];
}

export interface HouseReconciliation extends HouseSummary {
  /** How many completed purchases were checked. */
  purchases: number;
  failures: HouseFailure[];
  unvalued_fees: UnvaluedFee[];
}

/**
 * Checks every completed purchase against its record: the purchase is recorded, the cash and crypto
 * identities of src/domain/house.ts hold, the exchange spent no more than it was asked, and every
 * completed order belongs to exactly one recorded purchase.
 */
export async function reconcileHouse(em: EntityManager): Promise<HouseReconciliation> {
  const purchases = await em.execute<PurchaseRow[]>(COMPLETED_PURCHASES);
  const strays =
    await em.execute<{ id: string; purchase: string; purchases: string }[]>(ORDERS_NOT_IN_ONE_PURCHASE);
  const failures = [
    ...purchases.flatMap(checkPurchase),
    ...strays.map((o): HouseFailure => ({
      purchase: o.purchase,
      order_id: Number(o.id),
      check: 'order_in_one_purchase',
      expected: '1 recorded purchase',
      actual: `${o.purchases} recorded purchases`,
    })),
  ];
  return {
    purchases: purchases.length,
    failures,
    ...(await houseSummary(em)),
    unvalued_fees: await unvaluedFees(em),
  };
}
