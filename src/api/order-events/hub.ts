import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger } from 'fastify';
import { listenForOrderEvents, type OrderEventListener } from '../../services/order-event-listener.js';
import { deleteOldOrderEvents, type OrderEvent } from '../../services/order-events.js';

/** One open event stream, as the hub sees it. */
export interface EventSink {
  readonly userId: number;
  /** A live event of the sink's user. */
  deliver(event: OrderEvent): void;
  /** Notifications may have been lost: catch up from the stored events. */
  resync(): void;
  close(): void;
}

export interface OrderEventHubOptions {
  databaseUrl: string;
  orm: MikroORM;
  log: FastifyBaseLogger;
  maxStreamsPerUser: number;
  retentionMs: number;
}

/**
 * Someone waiting for an order's first event (the API request that placed it), woken by the event,
 * or with undefined by a reconnect of the listener (notifications sent meanwhile are lost: look in
 * the database).
 */
type PlacementWaiter = (event: OrderEvent | undefined) => void;

/** How often old events are deleted: often enough that the table holds little more than the retention. */
const CLEANUP_INTERVAL_MS = 60 * 60_000;

/**
 * The API process's side of the order events: one LISTEN connection, fanned out to the process's
 * open streams by user, the limit of open streams per user, and the periodic deletion of events
 * older than the retention (every process runs it; deleting twice is harmless).
 */
export class OrderEventHub {
  private readonly streams = new Map<number, Set<EventSink>>();
  private readonly placements = new Map<number, Set<PlacementWaiter>>();
  private listener?: OrderEventListener;
  /** Whether the listener is connected: events are being received. */
  private listening = false;
  private cleanup?: NodeJS.Timeout;
  /** The deletion under way, if any: stop() waits for it, so the database is not closed under it. */
  private cleaning?: Promise<void>;

  constructor(private readonly options: OrderEventHubOptions) {}

  start(): void {
    const { log } = this.options;
    this.listener = listenForOrderEvents(this.options.databaseUrl, {
      onEvent: (event) => {
        this.streams.get(event.userId)?.forEach((sink) => sink.deliver(event));
        this.placements.get(event.orderId)?.forEach((wake) => wake(event));
      },
      onConnected: () => {
        this.listening = true;
        this.streams.forEach((sinks) => sinks.forEach((sink) => sink.resync()));
        this.placements.forEach((waiters) => waiters.forEach((wake) => wake(undefined)));
      },
      onError: (error) => {
        this.listening = false;
        log.warn({ err: error }, 'order events: listener connection lost, reconnecting');
      },
    });
    const clean = () => {
      this.cleaning ??= deleteOldOrderEvents(this.options.orm.em.fork(), this.options.retentionMs)
        .then(() => undefined)
        .catch((error: unknown) => log.warn({ err: error }, 'order events: cleanup failed'))
        .finally(() => (this.cleaning = undefined));
    };
    void clean();
    this.cleanup = setInterval(clean, CLEANUP_INTERVAL_MS);
    this.cleanup.unref();
  }

  /** Adds a stream; false (and nothing added) when its user already has as many as allowed. */
  add(sink: EventSink): boolean {
    const sinks = this.streams.get(sink.userId) ?? new Set<EventSink>();
    if (sinks.size >= this.options.maxStreamsPerUser) return false;
    sinks.add(sink);
    this.streams.set(sink.userId, sinks);
    return true;
  }

  remove(sink: EventSink): void {
    const sinks = this.streams.get(sink.userId);
    if (!sinks) return;
    sinks.delete(sink);
    if (sinks.size === 0) this.streams.delete(sink.userId);
  }

  /**
   * Follows one order's placement: `next()` resolves with the order's next event, or with
   * undefined when an event may have been missed (the listener is not connected, or reconnected)
   * and the database should be asked, or when `ms` have passed. `stop()` when done.
   */
  followPlacement(orderId: number): { next(ms: number): Promise<OrderEvent | undefined>; stop(): void } {
    let woken: { event: OrderEvent | undefined } | undefined;
    let wake: (() => void) | undefined;
    const waiter: PlacementWaiter = (event) => {
      woken = { event };
      wake?.();
    };
    const waiters = this.placements.get(orderId) ?? new Set<PlacementWaiter>();
    waiters.add(waiter);
    this.placements.set(orderId, waiters);
    // Until the listener is connected nothing is heard: the caller looks in the database.
    if (!this.listening) woken = { event: undefined };
    return {
      next: async (ms) => {
        if (!woken) {
          let timer: NodeJS.Timeout | undefined;
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, ms);
          });
          clearTimeout(timer);
          wake = undefined;
        }
        const event = woken?.event;
        woken = undefined;
        return event;
      },
      stop: () => {
        waiters.delete(waiter);
        if (waiters.size === 0 && this.placements.get(orderId) === waiters) this.placements.delete(orderId);
      },
    };
  }

  /** How many streams this process has open for the user. */
  openStreams(userId: number): number {
    return this.streams.get(userId)?.size ?? 0;
  }

  /** Ends every open stream (the clients reconnect elsewhere, with their Last-Event-ID). */
  closeStreams(): void {
    for (const sinks of [...this.streams.values()]) for (const sink of [...sinks]) sink.close();
  }

  async stop(): Promise<void> {
    this.closeStreams();
    clearInterval(this.cleanup);
    await Promise.all([this.listener?.close(), this.cleaning]);
  }
}
