import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/api/app.js';
import { openOrm } from '../src/db/orm.js';
import { deleteOldOrderEvents } from '../src/services/order-events.js';
import { ADMIN, eventually, fundedUser, login, newUser, startApi, type TestApi } from './support/api.js';
import { addCrypto } from './support/pipeline.js';
import { SseClient, statesOf } from './support/sse.js';

const HEARTBEAT = '300ms';
const apiLines: string[] = [];
let api: TestApi;
const open: SseClient[] = [];

beforeAll(async () => {
  api = await startApi({
    worker: true,
    env: { SSE_HEARTBEAT_INTERVAL: HEARTBEAT, SSE_MAX_STREAMS_PER_USER: '2', LOG_LEVEL: 'info' },
    simulatorEnv: { EXCHANGE_SIM_PRICES: 'ABAN=4.00,BTC=50000.00,ETH=3000.00,POOLA=1.00,POOLB=1.00' },
    logDestination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        apiLines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    }),
  });
  await addCrypto(api.db, 'POOLA', '1.00');
  await addCrypto(api.db, 'POOLB', '1.00');
});

afterEach(() => {
  for (const client of open.splice(0)) client.close();
});

afterAll(async () => api?.close());

const eventsUrl = (base = api.url) => `${base}/orders/events/`;

async function stream(token: string, headers: Record<string, string> = {}, url = eventsUrl()) {
  const client = await SseClient.open(url, { authorization: `Bearer ${token}`, ...headers });
  open.push(client);
  return client;
}

async function buy(token: string, crypto: string, amount: string) {
  const res = await api.call('POST', 'orders/', { token, body: { crypto, amount } });
  expect(res.status).toBe(201);
  return res.body.id as number;
}

const orderOf = async (token: string, id: number) => (await api.call('GET', `orders/${id}/`, { token })).body;

describe('GET orders/events/', () => {
  it('streams a $12 order from pending to completed, each event the order as GET orders/{id}/ shows it', async () => {
    const user = await fundedUser(api, '100.00');
    const client = await stream(user.access);
    expect(client.status).toBe(200);
    expect(client.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(client.headers.get('cache-control')).toBe('no-store');

    const id = await buy(user.access, 'ABAN', '3');
    await client.until((c) => statesOf(c.orders(), id).includes('completed'));
    expect(statesOf(client.orders(), id)).toEqual(['pending', 'completed']);
    expect(client.events.every((e) => e.event === 'order')).toBe(true);
    const ids = client.events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    expect(client.orders().at(-1)).toEqual(await orderOf(user.access, id));
    expect(client.orders().at(-1)).toMatchObject({ total_price: '12.00', amount: '3.00000000' });
  });

  it('streams pooled orders from aggregated to completed', async () => {
    const user = await fundedUser(api, '100.00');
    const client = await stream(user.access);
    const first = await buy(user.access, 'POOLA', '4');
    await client.until((c) => statesOf(c.orders(), first).includes('aggregated'));
    const second = await buy(user.access, 'POOLA', '6');
    await client.until((c) => [first, second].every((id) => statesOf(c.orders(), id).includes('completed')));
    for (const id of [first, second]) {
      expect(statesOf(client.orders(), id)).toEqual(['aggregated', 'completed']);
      expect(
        client
          .orders()
          .filter((o) => o.id === id)
          .at(-1),
      ).toEqual(await orderOf(user.access, id));
    }
  });

  it('replays only what was missed after Last-Event-ID', async () => {
    const user = await fundedUser(api, '100.00');
    const first = await stream(user.access);
    const id = await buy(user.access, 'ABAN', '3');
    await first.until((c) => c.orders().some((o) => o.id === id));
    const seen = first.events[0]!;
    expect(JSON.parse(seen.data).state).toBe('pending');
    first.close();
    await eventually(
      () => orderOf(user.access, id),
      (order) => order.state === 'completed',
    );
    // Another order after the first completed, so there are two missed events.
    const later = await buy(user.access, 'ABAN', '3');
    await eventually(
      () => orderOf(user.access, later),
      (order) => order.state === 'completed',
    );

    const resumed = await stream(user.access, { 'last-event-id': seen.id! });
    await resumed.until((c) => statesOf(c.orders(), later).includes('completed'));
    const replayed = resumed.orders();
    expect(resumed.events.every((e) => Number(e.id) > Number(seen.id))).toBe(true);
    expect(statesOf(replayed, id)).toEqual(['completed']);
    expect(statesOf(replayed, later)).toEqual(['pending', 'completed']);
    expect(replayed).toHaveLength(3);

    // Without Last-Event-ID, a stream starts with the next change: nothing is replayed.
    const fresh = await stream(user.access);
    await fresh.until((c) => c.comments > 0);
    expect(fresh.events).toEqual([]);
  });

  it('sends a heartbeat comment while nothing happens', async () => {
    const user = await newUser(api);
    const client = await stream(user.access);
    await client.until((c) => c.comments >= 2);
    expect(client.events).toEqual([]);
  });

  it('shows an order its debit refused as rejected', async () => {
    const user = await newUser(api);
    const client = await stream(user.access);
    const res = await api.call('POST', 'orders/', {
      token: user.access,
      body: { crypto: 'ABAN', amount: '3' },
    });
    expect(res.status).toBe(422);
    await client.until((c) => c.orders().length > 0);
    const [event] = client.orders();
    expect(event).toMatchObject({ state: 'rejected', failure_code: 'insufficient_funds' });
    expect(event).toEqual(await orderOf(user.access, event.id));
  });

  it('refuses a stream beyond the per-user limit with 429, and accepts one again once another closes', async () => {
    const user = await newUser(api);
    const a = await stream(user.access);
    await stream(user.access);
    const refused = await stream(user.access);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ error: { code: 'too_many_streams', message: expect.any(String) } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another user is not affected.
    expect((await stream((await newUser(api)).access)).status).toBe(200);

    a.close();
    const again = await eventually(
      () => stream(user.access),
      (client) => client.status === 200,
    );
    expect(again.status).toBe(200);
  });

  it.each([['abc'], ['-1'], ['1e3'], ['5.0'], ['01'], ['9007199254740992']])(
    'refuses Last-Event-ID %j with 400',
    async (value) => {
      const user = await newUser(api);
      const client = await stream(user.access, { 'last-event-id': value });
      expect(client.status).toBe(400);
      expect(client.body).toMatchObject({ error: { code: 'validation_error' } });
    },
  );

  it('refuses a request without a valid token with 401', async () => {
    const none = await SseClient.open(eventsUrl());
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: { code: 'invalid_token' } });
    const bad = await SseClient.open(`${eventsUrl()}?access_token=not-a-token`);
    expect(bad.status).toBe(401);
    const unknown = await SseClient.open(`${eventsUrl()}?other=1`, {});
    expect(unknown.status).toBe(401);
  });

  it('accepts the access token as a query parameter and never logs it', async () => {
    const user = await fundedUser(api, '100.00');
    const url = `${eventsUrl()}?access_token=${encodeURIComponent(user.access)}`;
    const client = await SseClient.open(url);
    open.push(client);
    expect(client.status).toBe(200);
    const id = await buy(user.access, 'ABAN', '3');
    await client.until((c) => statesOf(c.orders(), id).includes('completed'));
    client.close();
    // A refused one is logged too.
    await SseClient.open(`${eventsUrl()}?access_token=${encodeURIComponent(user.access)}&x=1`);
    const lines = await eventually(
      async () => apiLines.filter((line) => line.includes('/orders/events')),
      (found) => found.length >= 2,
    );
    expect(apiLines.some((line) => line.includes(user.access))).toBe(false);
    expect(lines.some((line) => line.includes('access_token=[redacted]'))).toBe(true);
  });

  it('documents the route in OpenAPI', async () => {
    const spec = await startApi({ env: { DOCS_ENABLED: 'true' } });
    try {
      const doc = (await spec.call('GET', 'openapi.json')).body;
      const route = doc.paths['/api/v1/orders/events/'].get;
      // The query token is documented as the route's second security scheme (Swagger UI sends it from there).
      expect(route.parameters).toEqual([expect.objectContaining({ in: 'header', name: 'last-event-id' })]);
      expect(route.security).toEqual([{ bearerAuth: [] }, { accessTokenQuery: [] }]);
      expect(route.responses['200'].content).toEqual({
        'text/event-stream': { schema: expect.objectContaining({ type: 'string' }) },
      });
      expect(Object.keys(route.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '429']));
      expect(doc.components.securitySchemes.accessTokenQuery).toMatchObject({
        in: 'query',
        name: 'access_token',
      });
    } finally {
      await spec.close();
    }
  });
});

describe('several API processes', () => {
  let second: { app: FastifyInstance; url: string; close(): Promise<void> };

  beforeAll(async () => {
    // Another process's API: its own pool and listener on the same database, no worker.
    const orm = await openOrm({ databaseUrl: api.db.url, poolSize: 5 });
    const app = await buildApp({ env: { ...api.env, LOG_LEVEL: 'silent' }, orm, temporal: api.temporal });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    second = {
      app,
      url: `${address}/api/v1`,
      async close() {
        await app.close();
        await orm.close();
      },
    };
  });

  afterAll(async () => second?.close());

  it('both see a change the worker makes, and a resume on either replays it', async () => {
    const user = await fundedUser(api, '100.00');
    const here = await stream(user.access);
    const there = await stream(user.access, {}, eventsUrl(second.url));
    const id = await buy(user.access, 'ABAN', '3');
    for (const client of [here, there])
      await client.until((c) => statesOf(c.orders(), id).includes('completed'));
    expect(there.events).toEqual(here.events);
    const resumed = await stream(
      user.access,
      { 'last-event-id': here.events[0]!.id! },
      eventsUrl(second.url),
    );
    await resumed.until((c) => c.events.length > 0);
    expect(resumed.events[0]).toEqual(here.events[1]);
  });

  it('ends its open streams when it shuts down', async () => {
    const user = await newUser(api);
    const client = await stream(user.access, {}, eventsUrl(second.url));
    expect(client.status).toBe(200);
    await second.close();
    await client.until((c) => c.ended, 15_000);
    second = { ...second, close: async () => undefined };
  });
});

describe('retention', () => {
  it('deletes events older than the retention and keeps the rest', async () => {
    const user = await fundedUser(api, '100.00');
    const client = await stream(user.access);
    const id = await buy(user.access, 'ABAN', '3');
    await client.until((c) => statesOf(c.orders(), id).includes('completed'));
    const em = api.db.orm.em.fork();
    const [row] = await em.execute<{ user_id: number }[]>(
      'select user_id from order_events where order_id = ? limit 1',
      [id],
    );
    const userId = row!.user_id;
    const oldest = Number(client.events[0]!.id);
    await em.execute(`update order_events set created_at = now() - interval '25 hours' where id = ?`, [
      oldest,
    ]);
    const day = 24 * 3_600_000;
    expect(await deleteOldOrderEvents(em, day)).toBeGreaterThanOrEqual(1);
    const left = await em.execute<{ id: string }[]>(
      'select id from order_events where user_id = ? order by id',
      [userId],
    );
    expect(left.map((r) => Number(r.id))).toEqual(client.events.slice(1).map((e) => Number(e.id)));
  });
});

it('admin login still works with the event routes registered', async () => {
  expect(await login(api, ADMIN.username, ADMIN.password)).toEqual(expect.any(String));
});
