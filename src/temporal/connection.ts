import { setTimeout as sleep } from 'node:timers/promises';
import {
  Connection,
  defaultGrpcRetryOptions,
  makeGrpcRetryInterceptor,
  type ConnectionOptions,
} from '@temporalio/client';

/**
 * A Temporal client connection that can be closed while a call is retrying. The SDK's gRPC retry
 * interceptor waits on a timer between attempts, and `Connection.close()` does not cancel those
 * timers: one that fires after the close throws "Channel has been shut down" from the timer, out of
 * every caller's reach, and takes the process down. Here a closing connection starts no new retry,
 * and `close()` first lets the retries already scheduled run (each then fails for good).
 */
/** How long past a retry's due time `close()` still waits for it. */
const RETRY_MARGIN_MS = 250;

export async function connectClient(options: ConnectionOptions): Promise<Connection> {
  const retry = defaultGrpcRetryOptions();
  let closing = false;
  let retriesUntil = 0;
  const connection = await Connection.connect({
    ...options,
    interceptors: [
      makeGrpcRetryInterceptor({
        retryableDecider: (attempt, status) => !closing && retry.retryableDecider(attempt, status),
        delayFunction: (attempt, status) => {
          const delay = retry.delayFunction(attempt, status);
          retriesUntil = Math.max(retriesUntil, Date.now() + delay);
          return delay;
        },
      }),
      ...(options.interceptors ?? []),
    ],
  });
  const close = connection.close.bind(connection);
  connection.close = async () => {
    closing = true;
    // Timers are due by the event loop's cached clock, which lags the wall clock while the loop is
    // busy: wait on the wall clock, with a margin, until every scheduled retry has had its turn.
    while (Date.now() < retriesUntil + RETRY_MARGIN_MS)
      await sleep(retriesUntil + RETRY_MARGIN_MS - Date.now());
    await close();
  };
  return connection;
}
