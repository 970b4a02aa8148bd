import { Context } from '@temporalio/activity';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { EarlierAttempt } from '../exchange/exchange.js';
import { recordExchangeRequest } from '../services/exchange-requests.js';

/*
 * Both stamps are this worker's clock at the start of the activity, not the times Temporal
 * recorded: Temporal schedules a retry (or the refund-deciding lookup) only after the attempt before
 * it failed or timed out, so every request of an earlier attempt was signed before now, and the
 * server's clock is not the exchange's (a time-skipping test server runs far ahead of it). The
 * driver allows EXCHANGE_CLOCK_MARGIN for hosts whose clocks differ.
 */

/**
 * Before a buy: whether an earlier request for this client order id may have reached the exchange,
 * in which case the driver looks the order up before it places it again (see exchange.ts). The
 * attempt number alone is not enough: a buy runs as a local activity, and one cut off by a worker
 * crash leaves no trace in the history, so another worker runs it again as attempt 1. The request
 * row in Postgres, written before anything is sent, is.
 */
export async function earlierAttempt(
  orm: MikroORM,
  clientOrderId: string,
  /** False when the activity's attempt is another step's (the buy that follows a debit). */
  attemptCounts = true,
): Promise<EarlierAttempt | undefined> {
  const sentBefore = await recordExchangeRequest(orm.em.fork(), clientOrderId);
  const retried = attemptCounts && Context.current().info.attempt > 1;
  return sentBefore || retried ? { signedBefore: Date.now() } : undefined;
}

/** For the lookup that decides a refund, run only after the buy gave up. */
export function afterEveryAttempt(): EarlierAttempt {
  return { signedBefore: Date.now() };
}
