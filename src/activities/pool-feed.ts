import { readUsd, type Cents } from '../domain/money.js';
import type { PoolArrival } from '../workflows/definitions.js';

/**
 * Sends one signal carrying these orders to the pool `key` names, and answers with the pool's
 * threshold it sent along (the feed's guess of when the pool fills follows it).
 */
export type SendToPool = (key: string, orders: PoolArrival[]) => Promise<Cents>;

export interface PoolFeedOptions {
  send: SendToPool;
  /**
   * How long an order may wait for others to share its signal (0: only orders arriving in the
   * same turn of the event loop share one). An order that would fill the pool goes at once.
   */
  lingerMs: number;
  /** The threshold guessed for a pool the feed has not sent to yet. */
  threshold: Cents;
}

interface Waiting {
  order: PoolArrival;
  sent: () => void;
  failed: (error: unknown) => void;
}

interface Lane {
  waiting: Waiting[];
  total: Cents;
  timer?: NodeJS.Timeout;
  /**
   * What this feed sent to the pool since the pool last filled from it: the pool buys everything it
   * holds once it reaches its threshold, so the next order that brings it there goes at once. A
   * guess (other workers feed the pool too, and the max wait empties it): wrong, it only sends a
   * signal early or late by at most the linger.
   */
  sentSinceFull: Cents;
  threshold: Cents;
}

/**
 * Feeds pools with a signal per group of orders instead of one per order (group commit). Each
 * signal costs the Temporal server an event, a workflow task and its round trips, and the pool a
 * workflow activation, whatever it carries: at a few dozen pooled orders a second that was most of
 * a pooled order's cost (bench/README.md, "Pools fed in groups, and the settlement watched").
 * `add` resolves once the signal carrying the order has been accepted, so a caller that returns
 * after it has put the order in its pool as surely as a signal of its own; a failed signal fails
 * every order it carried.
 */
export function createPoolFeed(options: PoolFeedOptions) {
  const lanes = new Map<string, Lane>();

  const laneOf = (key: string): Lane => {
    let lane = lanes.get(key);
    if (!lane) {
      lane = { waiting: [], total: 0n, sentSinceFull: 0n, threshold: options.threshold };
      lanes.set(key, lane);
    }
    return lane;
  };

  function flush(key: string, lane: Lane): void {
    clearTimeout(lane.timer);
    lane.timer = undefined;
    const group = lane.waiting;
    const total = lane.total;
    lane.waiting = [];
    lane.total = 0n;
    if (group.length === 0) return;
    const filled = lane.sentSinceFull + total >= lane.threshold;
    lane.sentSinceFull = filled ? 0n : lane.sentSinceFull + total;
    options
      .send(
        key,
        group.map((w) => w.order),
      )
      .then(
        (threshold) => {
          lane.threshold = threshold;
          // A lower threshold (sent with the orders) may have filled the pool already.
          if (lane.sentSinceFull >= threshold) lane.sentSinceFull = 0n;
          for (const w of group) w.sent();
        },
        (error: unknown) => {
          lane.sentSinceFull = 0n;
          for (const w of group) w.failed(error);
        },
      );
  }

  return {
    /** Puts the order in the pool `key` names; resolves once the signal carrying it was accepted. */
    add(key: string, order: PoolArrival): Promise<void> {
      const lane = laneOf(key);
      return new Promise<void>((sent, failed) => {
        lane.waiting.push({ order, sent, failed });
        lane.total += readUsd(order.total);
        if (lane.sentSinceFull + lane.total >= lane.threshold) flush(key, lane);
        else lane.timer ??= setTimeout(() => flush(key, lane), options.lingerMs);
      });
    },
  };
}
