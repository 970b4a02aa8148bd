import pg from 'pg';
import { ORDER_EVENTS_CHANNEL, parseOrderEventNotification, type OrderEvent } from './order-events.js';

export interface OrderEventListenerHandlers {
  onEvent(event: OrderEvent): void;
  /**
   * The listener is (again) connected. Notifications sent while it was not are lost for good, so
   * whoever depends on them catches up from the stored events.
   */
  onConnected(): void;
  onError(error: unknown): void;
}

export interface OrderEventListener {
  close(): Promise<void>;
}

/**
 * One dedicated connection (not from the pool: a LISTEN belongs to its session) that listens for
 * order events and reconnects after `retryMs` whenever it is lost.
 */
export function listenForOrderEvents(
  databaseUrl: string,
  handlers: OrderEventListenerHandlers,
  retryMs = 1_000,
): OrderEventListener {
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const scheduleRetry = () => {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, retryMs);
    retry.unref();
  };

  async function connect(): Promise<void> {
    const current = new pg.Client({ connectionString: databaseUrl });
    client = current;
    const lost = (error?: unknown) => {
      if (client !== current) return;
      client = undefined;
      current.removeAllListeners('notification');
      void current.end().catch(() => undefined);
      if (error && !closed) handlers.onError(error);
      scheduleRetry();
    };
    current.on('error', lost);
    current.on('end', () => lost());
    current.on('notification', (message) => {
      if (message.channel !== ORDER_EVENTS_CHANNEL) return;
      const event = parseOrderEventNotification(message.payload);
      if (event) handlers.onEvent(event);
    });
    try {
      await current.connect();
      await current.query(`listen ${ORDER_EVENTS_CHANNEL}`);
    } catch (error) {
      lost(error);
      return;
    }
    if (closed) {
      await current.end().catch(() => undefined);
      return;
    }
    handlers.onConnected();
  }

  void connect();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}
