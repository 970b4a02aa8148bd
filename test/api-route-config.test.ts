import type { FastifyInstance } from 'fastify';
import { newUser, startApi, type TestApi } from './support/api.js';

/** Probe routes at the root, declared the way the API's routes are: by `config`, not by URL. */
function probes(app: FastifyInstance) {
  const ok = async () => ({ ok: true });
  // A hook of its own does not make a route authenticated, nor counted per user.
  app.get('/probe/hooked', { onRequest: async () => undefined }, ok);
  app.get('/probe/user', { config: { auth: 'user' } }, ok);
  app.get('/probe/admin', { config: { auth: 'admin' } }, ok);
  app.post('/probe/orders', { config: { auth: 'user', limits: ['orders'] } }, ok);
  // A path ending like the placement route's, without its config: neither order-limited nor timed as one.
  app.post('/probe/other/orders/', { config: { auth: 'user' } }, ok);
}

let api: TestApi;
beforeAll(async () => {
  api = await startApi({
    env: { RATE_LIMIT_USER: '4/1h', RATE_LIMIT_ORDERS_USER: '2/1h' },
    extend: probes,
  });
});
afterAll(async () => api.close());

const statuses = async (n: number, request: () => Promise<{ status: number }>) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await request()).status);
  return out;
};

it('a route without config is neither authenticated nor rate limited', async () => {
  expect(await statuses(8, () => api.call('GET', '/probe/hooked'))).toEqual(Array(8).fill(200));
});

it('config.auth asks for a token, and admin for the admin role', async () => {
  const user = await newUser(api);
  expect((await api.call('GET', '/probe/user')).status).toBe(401);
  expect((await api.call('GET', '/probe/user', { token: user.access })).status).toBe(200);
  expect((await api.call('GET', '/probe/admin', { token: user.access })).status).toBe(403);
});

it('config.auth brings the per-user limit', async () => {
  const user = await newUser(api);
  expect(await statuses(5, () => api.call('GET', '/probe/user', { token: user.access }))).toEqual([
    200, 200, 200, 200, 429,
  ]);
});

it('config.limits adds the orders limit to its route only', async () => {
  const user = await newUser(api);
  const other = await newUser(api);
  const post = (path: string, token: string) => api.call('POST', path, { token });
  expect(await statuses(3, () => post('/probe/orders', user.access))).toEqual([200, 200, 429]);
  // The same URL ending as the order route, without the config: only the per-user limit applies.
  expect(await statuses(4, () => post('/probe/other/orders/', other.access))).toEqual([200, 200, 200, 200]);
  const text = await api.app.metrics.registry.metrics();
  expect(text).not.toMatch(/^order_placement_duration_seconds_count\{status="200"\}/m);
});
