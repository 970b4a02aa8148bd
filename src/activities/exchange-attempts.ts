import { Context } from '@temporalio/activity';
import type { EarlierAttempt } from '../exchange/exchange.js';

/**
 * On a retry of a buy, when the previous attempt must have signed its request: before this attempt
 * was scheduled, since Temporal schedules a retry only after the previous attempt failed or timed
 * out. The driver looks the order up before it places it again (see exchange.ts).
 */
export function earlierAttempt(): EarlierAttempt | undefined {
  const { attempt, currentAttemptScheduledTimestampMs } = Context.current().info;
  return attempt > 1 ? { signedBefore: currentAttemptScheduledTimestampMs } : undefined;
}

/**
 * For the lookup that decides a refund: it is scheduled only after the buy gave up, so every request
 * the buy signed was signed before the lookup was first scheduled.
 */
export function afterEveryAttempt(): EarlierAttempt {
  return { signedBefore: Context.current().info.scheduledTimestampMs };
}
