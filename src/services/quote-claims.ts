import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlOf } from '../db/kysely.js';
import { conflict } from '../domain/errors.js';

export const quoteUsed = () => conflict('quote_used', 'this quote was already used by another order');

/**
 * Marks the quote used by the order, inside the order's debit transaction (after its order row is
 * inserted): one conditional update, so of two orders racing for one quote exactly one wins and the
 * other is refused with `quote_used`, its debit rolled back.
 */
export async function claimQuote(
  tx: EntityManager,
  quoteId: string,
  userId: number,
  orderId: number,
): Promise<void> {
  const claimed = await sqlOf(tx)
    .updateTable('quotes')
    .set({ used_by_order_id: orderId })
    .where('id', '=', quoteId)
    .where('user_id', '=', userId)
    .where('used_by_order_id', 'is', null)
    .returning('id')
    .executeTakeFirst();
  if (!claimed) throw quoteUsed();
}
