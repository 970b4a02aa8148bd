import type { FastifyInstance } from 'fastify';
import type { Connection } from '@temporalio/client';
import { buildApp } from '../src/api/app.js';
import getPort from 'get-port';
import { connectTemporal } from '../src/runtime/resources.js';
import { seed } from '../src/services/seed.js';
import { startDevServer, type DevServer } from '../tools/temporal-dev-server.js';
import { testEnv } from './support/api.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

// A Temporal dev server of this file's own, so that stopping it disturbs no other test.
let db: TestDatabase;
let port: number;
let server: DevServer | undefined;
let connection: Connection;
let app: FastifyInstance;

const startServer = async () => {
  server = await startDevServer({ port });
};

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.orm.em.fork(), { username: 'admin', password: 'admin-test-password' });
  port = await getPort();
  await startServer();
  const env = testEnv({
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_RPC_TIMEOUT: '2s',
    PLACEMENT_TIMEOUT: '1s',
  });
  const temporal = await connectTemporal(env);
  connection = temporal.connection;
  app = await buildApp({ env, orm: db.orm, temporal: temporal.client });
}, 60_000);

afterAll(async () => {
  await app?.close();
  await connection?.close();
  await server?.stop('SIGKILL');
  await db?.drop();
});

const call = async (method: 'GET' | 'POST' | 'PATCH', url: string, token?: string, payload?: unknown) => {
  const res = await app.inject({
    method,
    url: url.startsWith('/') ? url : `/api/v1/${url}`,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: res.statusCode, headers: res.headers, body: res.json() };
};

async function untilReady(timeoutMs: number): Promise<number> {
  const started = Date.now();
  while ((await call('GET', '/readyz')).status !== 200) {
    if (Date.now() - started > timeoutMs) throw new Error(`/readyz not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - started;
}

it('answers 503 with Retry-After at once while Temporal is down, and is ready again within seconds', async () => {
  const registered = await call('POST', 'accounts/auth/register/', undefined, {
    username: `outage${process.pid}`,
    password: 'correct horse battery',
  });
  const token = registered.body.access as string;
  await call('PATCH', 'accounts/wallet/deposit/', token, { amount: '100.00' });
  expect((await call('GET', '/readyz')).body).toMatchObject({ status: 'ready', temporal: 'ok' });

  await server!.stop('SIGKILL');
  const started = Date.now();
  const refused = await call('POST', 'orders/', token, { crypto: 'ABAN', amount: '3' });
  expect(Date.now() - started).toBeLessThan(6_000);
  expect(refused).toMatchObject({ status: 503, body: { error: { code: 'temporal_unavailable' } } });
  expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  expect((await call('GET', 'accounts/wallet/', token)).body.balance).toBe('100.00');
  expect((await call('GET', 'orders/', token)).body.results).toEqual([]);
  expect((await call('GET', '/readyz')).body).toMatchObject({ status: 'not_ready', temporal: 'unavailable' });

  // Long enough for gRPC's reconnect back-off to have grown, as in a real outage.
  await new Promise((r) => setTimeout(r, 8_000));
  await startServer();
  expect(await untilReady(3_000)).toBeLessThan(3_000);
  const placed = await call('POST', 'orders/', token, { crypto: 'ABAN', amount: '3' });
  // No worker polls this server: the order is accepted and waits for one.
  expect(placed).toMatchObject({ status: 202, body: { state: 'placing' } });
}, 60_000);
