import type { FastifyReply } from 'fastify';
import type { MikroORM } from '@mikro-orm/postgresql';
import {
  latestOrderEventId,
  orderEventsAfter,
  type OrderEvent,
  type OrderEventData,
} from '../../services/order-events.js';
import type { EventSink } from './hub.js';

/** Stored events are read back this many at a time. */
const REPLAY_PAGE = 500;

/**
 * One client's stream of its order events. Everything it writes goes through one queue, in order;
 * `cursor` is the id of the last event written, and only a larger one is ever written, so an event
 * that arrives both live and from the stored events is written once. The user's event ids
 * increase in commit order (services/order-events.ts), which is what makes "larger than the
 * cursor" mean "not yet seen".
 */
export class OrderStream implements EventSink {
  private cursor = 0;
  private started = false;
  /** Live events that arrived while the stream was starting; written after the replay. */
  private early: OrderEvent[] = [];
  private queue: Promise<void> = Promise.resolve();
  private ended = false;

  constructor(
    readonly userId: number,
    private readonly reply: FastifyReply,
    private readonly orm: MikroORM,
    /** The view as `GET orders/{id}/` serializes it. */
    private readonly format: (data: OrderEventData) => unknown,
  ) {}

  /**
   * Replays the stored events after `lastEventId`; without one, the stream starts after the
   * user's latest event (a new client is owed what happens from now on).
   */
  start(lastEventId: number | undefined): Promise<void> {
    return this.enqueue(async () => {
      this.cursor = lastEventId ?? (await latestOrderEventId(this.orm.em.fork(), this.userId));
      await this.replay();
      this.started = true;
      for (const event of this.early.splice(0)) await this.write(event);
    });
  }

  deliver(event: OrderEvent): void {
    if (!this.started) this.early.push(event);
    else void this.enqueue(() => this.write(event));
  }

  resync(): void {
    void this.enqueue(() => this.replay());
  }

  close(): void {
    this.ended = true;
    this.reply.sse.close();
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    this.queue = this.queue
      .then(() => (this.ended ? undefined : step()))
      .catch((error: unknown) => {
        // A stream that cannot go on is ended; the client reconnects with its Last-Event-ID.
        if (this.reply.sse.isConnected) this.reply.log.warn({ err: error }, 'order events: stream ended');
        this.close();
      });
    return this.queue;
  }

  private async replay(): Promise<void> {
    for (;;) {
      const events = await orderEventsAfter(this.orm.em.fork(), this.userId, this.cursor, REPLAY_PAGE);
      for (const event of events) await this.write(event);
      if (events.length < REPLAY_PAGE) return;
    }
  }

  private async write(event: OrderEvent): Promise<void> {
    if (this.ended || event.id <= this.cursor) return;
    this.cursor = event.id;
    await this.reply.sse.send({ id: String(event.id), event: 'order', data: this.format(event.data) });
  }
}
