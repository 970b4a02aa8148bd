import { Redis } from 'ioredis';
import { newUser, startApi, type TestApi } from './support/api.js';

const opened: TestApi[] = [];
afterAll(async () => Promise.all(opened.map((api) => api.close())));
async function apiWith(env: Record<string, string>): Promise<TestApi> {
  const api = await startApi({ env });
  opened.push(api);
  return api;
}

const login = (api: TestApi, username: string, password: string) =>
  api.call('POST', 'accounts/auth/login/', { body: { username, password } });
const GOOD = 'correct horse battery';

function expectLimited(res: { status: number; body: any; headers: Headers }) {
  expect(res.status).toBe(429);
  expect(res.body.error.code).toBe('rate_limited');
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
}

it('failed logins per account: refused at the threshold, not before, and only for that account', async () => {
  const api = await apiWith({ RATE_LIMIT_LOGIN_FAILURES: '3/15m' });
  const victim = await newUser(api);
  const bystander = await newUser(api);
  for (let i = 0; i < 3; i++) expect((await login(api, victim.username, 'wrong password')).status).toBe(401);
  // Even the right password is refused now: the account is being guessed at.
  expectLimited(await login(api, victim.username, GOOD));
  expect((await login(api, bystander.username, GOOD)).status).toBe(200);
});

it('successful logins do not count as failures', async () => {
  const api = await apiWith({ RATE_LIMIT_LOGIN_FAILURES: '2/15m' });
  const user = await newUser(api);
  for (let i = 0; i < 5; i++) expect((await login(api, user.username, GOOD)).status).toBe(200);
});

it('registrations per IP', async () => {
  const api = await apiWith({ RATE_LIMIT_REGISTER_IP: '3/1h' });
  for (let i = 0; i < 3; i++) await newUser(api);
  expectLimited(
    await api.call('POST', 'accounts/auth/register/', { body: { username: 'one_too_many', password: GOOD } }),
  );
});

it('requests per IP on the auth routes', async () => {
  const api = await apiWith({ RATE_LIMIT_AUTH_IP: '5/1m' });
  for (let i = 0; i < 5; i++) {
    expect((await api.call('POST', 'accounts/auth/refresh/', { body: { refresh: 'garbage' } })).status).toBe(
      401,
    );
  }
  expectLimited(await api.call('POST', 'accounts/auth/refresh/', { body: { refresh: 'garbage' } }));
});

it('orders per user, keyed on the user and not the IP', async () => {
  const api = await apiWith({ RATE_LIMIT_ORDERS_USER: '3/1m' });
  const a = await newUser(api);
  const b = await newUser(api);
  // Unknown crypto: refused at once, but every attempt still counts.
  const order = (token: string) =>
    api.call('POST', 'orders/', { token, body: { crypto: 'NOPE', amount: 1 } });
  for (let i = 0; i < 3; i++) expect((await order(a.access)).status).toBe(400);
  expectLimited(await order(a.access));
  expect((await order(b.access)).status).toBe(400);
  // Other routes of the same user are not affected by the order limit.
  expect((await api.call('GET', 'accounts/wallet/', { token: a.access })).status).toBe(200);
});

it('every authenticated request, per user', async () => {
  const api = await apiWith({ RATE_LIMIT_USER: '5/1h' });
  const a = await newUser(api);
  const b = await newUser(api);
  for (let i = 0; i < 5; i++)
    expect((await api.call('GET', 'accounts/wallet/', { token: a.access })).status).toBe(200);
  expectLimited(await api.call('GET', 'transactions/', { token: a.access }));
  expect((await api.call('GET', 'accounts/wallet/', { token: b.access })).status).toBe(200);
  // Public routes are not counted against anyone.
  expect((await api.call('GET', 'exchanges/crypto-currencies/')).status).toBe(200);
});

describe('with Redis', () => {
  const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  let available = false;
  beforeAll(async () => {
    const probe = new Redis(url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0 });
    available = await probe.connect().then(
      () => true,
      () => false,
    );
    probe.disconnect();
    if (!available) console.warn(`Redis not reachable at ${url}: the shared-store test is skipped`);
  });

  it('two API processes share the counters', async () => {
    if (!available) return;
    const env = {
      REDIS_URL: url,
      RATE_LIMIT_NAMESPACE: `test-rl-${process.pid}-${Date.now()}:`,
      RATE_LIMIT_LOGIN_FAILURES: '2/15m',
    };
    const first = await apiWith(env);
    const second = await apiWith(env);
    const user = await newUser(first);
    // The second API has its own database: the account exists only in the first, but the
    // counter is keyed on the username, so the second instance sees the first one's failures.
    expect((await login(first, user.username, 'wrong password')).status).toBe(401);
    expect((await login(second, user.username, 'wrong password')).status).toBe(401);
    expectLimited(await login(first, user.username, GOOD));
  });
});

it('wrong one-time codes per user', async () => {
  const api = await apiWith({ RATE_LIMIT_LOGIN_FAILURES: '3/15m' });
  const user = await newUser(api);
  expect((await api.call('POST', 'accounts/totp/enroll/', { token: user.access })).status).toBe(200);
  const confirm = () =>
    api.call('POST', 'accounts/totp/confirm/', { token: user.access, body: { code: '000000' } });
  // A fixed wrong code: a (one in a million) match would only end the test early.
  for (let i = 0; i < 3; i++) expect((await confirm()).status).toBe(400);
  expectLimited(await confirm());
});
