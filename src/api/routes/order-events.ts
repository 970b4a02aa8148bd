import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyPluginAsync } from 'fastify';
import fastifySseModule, { type SSEPluginOptions } from '@fastify/sse';
import { z } from 'zod';
import { DomainError } from '../../domain/errors.js';
import { errorSchema, orderSchema, placementSchema } from '../schemas.js';
import type { OrderEventHub } from '../order-events/hub.js';
import { OrderStream } from '../order-events/stream.js';
import type { OrderEventData } from '../../services/order-events.js';

/**
 * The package's CommonJS export itself is the plugin wrapped by fastify-plugin, whose route hook then
 * reaches the routes declared here (its named and `default` exports are the unwrapped function);
 * its types describe it as a module, hence the cast.
 */
const fastifySse = fastifySseModule as unknown as FastifyPluginAsync<SSEPluginOptions>;

export interface OrderEventRouteOptions {
  hub: OrderEventHub;
  orm: MikroORM;
  heartbeatMs: number;
  maxStreamsPerUser: number;
}

/** An event id: plain decimal digits (0: from the start of what is kept), at most 2^53 - 1. */
const lastEventId = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,18})$/, { message: 'an event id in plain decimal digits', abort: true })
  .refine((text) => BigInt(text) <= BigInt(Number.MAX_SAFE_INTEGER), 'not an event id')
  .transform(Number)
  .meta({ description: 'The `id` of the last event received; the events after it are replayed first' });

/** Each event's data is what `GET orders/{id}/` answers, serialized by the same schema. */
const eventData = z.union([orderSchema, placementSchema]);
const format = (data: OrderEventData) => {
  const parsed = eventData.safeParse(data);
  return parsed.success ? parsed.data : data;
};

const DESCRIPTION = [
  'A `text/event-stream` of the caller’s order changes, as they commit (from the API or the worker). Each event is `event: order`, `id:` the event’s id (increasing for each user) and `data:` the order as `GET orders/{id}/` returns it (an order refused by its debit appears `rejected`).',
  'Reconnect with the `Last-Event-ID` header (browsers’ EventSource sends it by itself) to receive first what was missed: events are kept at least 24 hours. Without it the stream starts with the next change.',
  'A comment line (`: heartbeat`) is sent every `SSE_HEARTBEAT_INTERVAL` so that proxies keep the connection open.',
  'Authentication: the bearer header, or the `access_token` query parameter for EventSource, which cannot set headers (it is never logged). At most `SSE_MAX_STREAMS_PER_USER` streams per user and API process are open at once; one more is refused with 429.',
].join('\n\n');

export const orderEventRoutes: FastifyPluginAsyncZod<OrderEventRouteOptions> = async (app, options) => {
  const { hub, orm, heartbeatMs, maxStreamsPerUser } = options;
  await app.register(fastifySse, { heartbeatInterval: heartbeatMs });

  app.get(
    '/orders/events/',
    {
      // No Accept negotiation: the route only ever streams, and refusals keep the JSON error shape.
      sse: 'manual',
      config: { auth: 'user', tokenInQuery: true },
      schema: {
        tags: ['orders'],
        security: [{ bearerAuth: [] }, { accessTokenQuery: [] }],
        summary: 'Live order updates (Server-Sent Events), resumable with Last-Event-ID',
        description: DESCRIPTION,
        querystring: z.strictObject({
          access_token: z
            .string()
            .optional()
            .meta({ description: 'An access token, for clients that cannot send the Authorization header' }),
        }),
        headers: z.object({ 'last-event-id': lastEventId.optional() }),
        response: {
          200: {
            description: 'The stream: one event per order change, and heartbeat comments',
            content: {
              'text/event-stream': {
                schema: z.string().meta({
                  description:
                    '`event: order`, `id: <event id>`, `data: <the order as GET orders/{id}/ returns it>`, then a blank line',
                  example:
                    'event: order\nid: 42\ndata: {"id":1001,"crypto":"ABAN","state":"completed",…}\n\n',
                }),
              },
            },
          },
          400: errorSchema,
          401: errorSchema,
          429: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const stream = new OrderStream(request.user.id, reply, orm, format);
      if (!hub.add(stream)) {
        // A stream whose client went away is noticed at its next write, within a heartbeat.
        reply.header('retry-after', String(Math.max(1, Math.ceil(heartbeatMs / 1000))));
        throw new DomainError(
          'too_many_streams',
          `at most ${maxStreamsPerUser} event streams may be open at once; close one first`,
        );
      }
      reply.sse.keepAlive();
      reply.sse.onClose(() => {
        stream.close();
        hub.remove(stream);
      });
      reply.header('cache-control', 'no-store');
      reply.sse.sendHeaders();
      // The client learns the stream is open now, not at the first event or heartbeat.
      reply.raw.flushHeaders();
      await stream.start(request.headers['last-event-id']);
    },
  );
};
