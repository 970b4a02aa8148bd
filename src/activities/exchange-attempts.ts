import { Context } from '@temporalio/activity';
import type { EarlierAttempt } from '../exchange/exchange.js';

/*
 * Both stamps are this worker's clock at the start of the activity, not the times Temporal
 * recorded: Temporal schedules a retry (or the refund-deciding lookup) only after the attempt before
 * it failed or timed out, so every request of an earlier attempt was signed before now, and the
 * server's clock is not the exchange's (a time-skipping test server runs far ahead of it). The
 * driver allows EXCHANGE_CLOCK_MARGIN for hosts whose clocks differ.
 */

/** On a retry of a buy: the driver looks the order up before it places it again (see exchange.ts). */
export function earlierAttempt(): EarlierAttempt | undefined {
  return Context.current().info.attempt > 1 ? { signedBefore: Date.now() } : undefined;
}

/** For the lookup that decides a refund, run only after the buy gave up. */
export function afterEveryAttempt(): EarlierAttempt {
  return { signedBefore: Date.now() };
}
