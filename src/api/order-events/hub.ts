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

/** How often old events are deleted: often enough that the table holds little more than the retention. */
const CLEANUP_INTERVAL_MS = 60 * 60_000;

/**
 * The API process's side of the order events: one LISTEN connection, fanned out to the process's
 * open streams by user, the limit of open streams per user, and the periodic deletion of events
 * older than the retention (every process runs it; deleting twice is harmless).
 */
export class OrderEventHub {
  private readonly streams = new Map<number, Set<EventSink>>();
  private listener?: OrderEventListener;
  private cleanup?: NodeJS.Timeout;
  /** The deletion under way, if any: stop() waits for it, so the database is not closed under it. */
  private cleaning?: Promise<void>;

  constructor(private readonly options: OrderEventHubOptions) {}

  start(): void {
    const { log } = this.options;
    this.listener = listenForOrderEvents(this.options.databaseUrl, {
      onEvent: (event) => this.streams.get(event.userId)?.forEach((sink) => sink.deliver(event)),
      onConnected: () => this.streams.forEach((sinks) => sinks.forEach((sink) => sink.resync())),
      onError: (error) => log.warn({ err: error }, 'order events: listener connection lost, reconnecting'),
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
