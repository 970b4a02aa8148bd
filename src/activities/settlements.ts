import { settlementOf, type Settlement } from '../domain/orders.js';
import { listenForOrderEvents, type OrderEventListener } from '../services/order-event-listener.js';

/**
 * How many pooled orders one worker watches at once. Each holds its workflow task open (its debit's
 * local activity waits), and so one of the worker's workflow task slots: past this many, orders wait
 * for the pool's signal instead, so that a pool falling behind cannot take the slots new orders need
 * (the SDK's default is 40 workflow tasks at once).
 */
export const MAX_WATCHED = 16;

export interface SettlementWatch {
  /**
   * The order's settlement as soon as its order event shows one, or undefined after the watch's
   * wait (or at once when MAX_WATCHED orders are watched). A notification lost while the listener
   * reconnects only makes the wait run out: the caller then reads the order's row.
   */
  settled(orderId: number): Promise<Settlement | undefined>;
  close(): Promise<void>;
}

/**
 * Watches the order events (the same `LISTEN` the API follows placements with) for the settlement
 * of the pooled orders this worker's debits put in their pools, each for up to `waitMs`
 * (POOL_SETTLE_WAIT). The listener starts with the first watch.
 */
export function watchSettlements(
  databaseUrl: string,
  waitMs: number,
  onError: (error: unknown) => void = () => undefined,
): SettlementWatch {
  const watched = new Map<number, (settlement: Settlement | undefined) => void>();
  let listener: OrderEventListener | undefined;
  let closed = false;

  const listen = () =>
    listenForOrderEvents(databaseUrl, {
      onEvent(event) {
        const done = watched.get(event.orderId);
        if (!done || !('batch_id' in event.data)) return; // a placement, not an order
        const settlement = settlementOf(event.data);
        if (settlement) done(settlement);
      },
      onConnected: () => undefined,
      onError,
    });

  return {
    settled(orderId) {
      if (closed || watched.size >= MAX_WATCHED || watched.has(orderId)) {
        return Promise.resolve(undefined);
      }
      listener ??= listen();
      return new Promise((resolve) => {
        const timer = setTimeout(() => done(undefined), waitMs);
        const done = (settlement: Settlement | undefined) => {
          clearTimeout(timer);
          watched.delete(orderId);
          resolve(settlement);
        };
        watched.set(orderId, done);
      });
    },
    async close() {
      closed = true;
      for (const done of [...watched.values()]) done(undefined);
      await listener?.close();
    },
  };
}
