import type { EntityManager } from '@mikro-orm/postgresql';
import { readUsd, type Cents } from '../domain/money.js';
import { assess, type FraudConfig, type FraudDecision, type FraudFacts } from '../domain/fraud.js';

/**
 * What the fraud rules say of an order, inside the debit transaction. With the rules off nothing is
 * read: the facts cost the heaviest statement of the debit (counts and sums over the user's orders).
 */
export async function assessOrder(
  tx: EntityManager,
  userId: number,
  total: Cents,
  config: FraudConfig,
): Promise<FraudDecision> {
  if (!config.enabled) return { action: 'allow' };
  return assess(await gatherFraudFacts(tx, userId, total, config), config);
}

/**
 * Reads what the fraud rules need, inside the debit transaction. The wallet row is locked first,
 * so a user's concurrent orders are assessed one after another and velocity counts are exact.
 */
export async function gatherFraudFacts(
  tx: EntityManager,
  userId: number,
  total: Cents,
  config: FraudConfig,
): Promise<FraudFacts> {
  // Raw SQL on purpose: one statement locks the wallet and reads every figure under that lock.
  const [row] = await tx.execute<
    {
      balance: string;
      age_ms: string;
      recent: string;
      history_count: string;
      history_total: string;
      deposits: string;
    }[]
  >(
    `with wallet as (select id, balance from wallets where user_id = ? for update)
     select (select balance from wallet) as balance,
            (select (extract(epoch from now() - created_at) * 1000)::bigint from users where id = ?) as age_ms,
            (select count(*) from orders where user_id = ? and created_at > now() - ? * interval '1 millisecond') as recent,
            (select count(*) from orders where user_id = ? and state not in ('failed', 'cancelled')) as history_count,
            (select coalesce(sum(total_price), 0) from orders where user_id = ? and state not in ('failed', 'cancelled')) as history_total,
            (select coalesce(sum(t.amount), 0) from transactions t join wallet w on w.id = t.wallet_id
              where t.type = 'deposit' and t.created_at > now() - ? * interval '1 millisecond') as deposits`,
    [userId, userId, userId, config.velocity.windowMs, userId, userId, config.burst.windowMs],
  );
  return {
    total,
    balance: readUsd(row!.balance),
    accountAgeMs: Number(row!.age_ms),
    recentOrders: Number(row!.recent),
    historyCount: Number(row!.history_count),
    historyTotal: readUsd(row!.history_total),
    recentDeposits: readUsd(row!.deposits),
  };
}
