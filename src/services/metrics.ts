import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { sqlOf } from '../db/kysely.js';

/** How many rows of `table` are in each state. */
export async function countByState(
  em: EntityManager,
  table: 'orders' | 'batches',
): Promise<Map<string, number>> {
  const rows = await sqlOf(em)
    .selectFrom(table)
    .select((q) => ['state', q.fn.countAll<string>().as('n')])
    .groupBy('state')
    .execute();
  return new Map(rows.map((r) => [r.state, Number(r.n)]));
}

/** How many refunds the ledger holds. */
export async function countRefunds(em: EntityManager): Promise<number> {
  const row = await sqlOf(em)
    .selectFrom('transactions')
    .select((q) => q.fn.countAll<string>().as('n'))
    .where('type', '=', 'refund')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** When the longest-held order waiting for review was placed (seconds since the epoch), if any. */
export async function oldestHeldOrderAt(em: EntityManager): Promise<number | undefined> {
  const row = await sqlOf(em)
    .selectFrom('orders')
    .select(sql<number | null>`extract(epoch from min(created_at))::float8`.as('at'))
    .where('state', '=', 'held')
    .executeTakeFirstOrThrow();
  return row.at ?? undefined;
}
