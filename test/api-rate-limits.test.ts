import { Redis } from 'ioredis';
import { generate } from 'otplib';
import { newUser, USER_PASSWORD, type TestApi, apisPerFile } from './support/api.js';

const apiWith = apisPerFile();

/** `from` is the client IP, sent as X-Forwarded-For to an API that trusts it. */
const login = (api: TestApi, username: string, password: string, from?: string, otp?: string) =>
  api.call('POST', 'accounts/auth/login/', {
    body: { username, password, ...(otp ? { otp } : {}) },
    headers: from ? { 'x-forwarded-for': from } : {},
  });
const GOOD = USER_PASSWORD;
const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;

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
      RATE_LIMIT_AUTH_IP: '2/1m',
    };
    const first = await apiWith(env);
    const second = await apiWith(env);
    const refresh = (api: TestApi) => api.call('POST', 'accounts/auth/refresh/', { body: { refresh: 'x' } });
    expect((await refresh(first)).status).toBe(401);
    expect((await refresh(second)).status).toBe(401);
    expectLimited(await refresh(first));
  });
});

it('wrong one-time codes per user', async () => {
  const api = await apiWith({ RATE_LIMIT_LOGIN_FAILURES: '3/15m' });
  const user = await newUser(api);
  const enrolled = await api.call('POST', 'accounts/totp/enroll/', {
    token: user.access,
    body: { password: GOOD },
  });
  expect(enrolled.status).toBe(200);
  const confirm = () =>
    api.call('POST', 'accounts/totp/confirm/', {
      token: user.access,
      body: { password: GOOD, code: '000000' },
    });
  // A fixed wrong code: a (one in a million) match would only end the test early.
  for (let i = 0; i < 3; i++) expect((await confirm()).status).toBe(400);
  expectLimited(await confirm());
});

describe('sign-in attempts are counted before they are checked', () => {
  const LIMIT = 5;
  let api: TestApi;
  beforeAll(async () => {
    api = await apiWith({ RATE_LIMIT_LOGIN_FAILURES: `${LIMIT}/15m`, TRUST_PROXY: 'true' });
  });
  let ip = 0;
  /** A client IP of its own for each test, so tests do not share counters. */
  const nextIp = () => `198.51.100.${++ip}`;

  it('50 concurrent wrong passwords: exactly the limit is checked, the rest are refused unchecked', async () => {
    const user = await newUser(api);
    const from = nextIp();
    const statuses = (
      await Promise.all(Array.from({ length: 50 }, () => login(api, user.username, 'wrong password', from)))
    ).map((r) => r.status);
    expect(count(statuses, 401)).toBe(LIMIT);
    expect(count(statuses, 429)).toBe(50 - LIMIT);
    expectLimited(await login(api, user.username, GOOD, from));
  });

  it('49 concurrent wrong passwords and the right one: no more than the limit is checked', async () => {
    const user = await newUser(api);
    const from = nextIp();
    const attempts = Array.from({ length: 50 }, (_, i) => (i === 25 ? GOOD : `wrong password ${i}`));
    const statuses = (await Promise.all(attempts.map((p) => login(api, user.username, p, from)))).map(
      (r) => r.status,
    );
    // The right password, if it got one of the slots, gives its slot back: one more wrong guess
    // may then be checked, never more than the limit.
    expect(count(statuses, 401)).toBeLessThanOrEqual(LIMIT);
    expect(count(statuses, 200)).toBeLessThanOrEqual(1);
    expect(count(statuses, 401) + count(statuses, 200) + count(statuses, 429)).toBe(50);
    expect(count(statuses, 429)).toBeGreaterThanOrEqual(50 - LIMIT - 1);
    // The limit is spent: the right password waits too.
    expectLimited(await login(api, user.username, GOOD, from));
  });

  it('49 concurrent wrong one-time codes at login and the right one: no more than the limit is checked', async () => {
    const user = await newUser(api);
    const from = nextIp();
    const enrolled = await api.call('POST', 'accounts/totp/enroll/', {
      token: user.access,
      body: { password: GOOD },
    });
    const secret: string = enrolled.body.secret;
    const now = () => generate({ secret, epoch: Math.floor(Date.now() / 1000) });
    const confirmed = await api.call('POST', 'accounts/totp/confirm/', {
      token: user.access,
      body: { password: GOOD, code: await now() },
    });
    expect(confirmed.status).toBe(200);
    const right = await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
    const valid = new Set([await now(), right, await generate({ secret, epoch: Date.now() / 1000 - 30 })]);
    const wrong = Array.from({ length: 60 }, (_, i) => String(100000 + i * 7919)).filter(
      (c) => !valid.has(c),
    );
    const codes = [...wrong.slice(0, 25), right, ...wrong.slice(25, 49)];
    const responses = await Promise.all(codes.map((otp) => login(api, user.username, GOOD, from, otp)));
    const invalid = responses.filter((r) => r.body?.error?.code === 'invalid_otp').length;
    expect(invalid).toBeLessThanOrEqual(LIMIT);
    expect(
      count(
        responses.map((r) => r.status),
        200,
      ),
    ).toBeLessThanOrEqual(1);
    expect(
      count(
        responses.map((r) => r.status),
        429,
      ),
    ).toBeGreaterThanOrEqual(50 - LIMIT - 1);
  });

  it('50 concurrent wrong codes to confirm or disable: no more than the limit is checked', async () => {
    const user = await newUser(api);
    const from = nextIp();
    const enrolled = await api.call('POST', 'accounts/totp/enroll/', {
      token: user.access,
      body: { password: GOOD },
      headers: { 'x-forwarded-for': from },
    });
    expect(enrolled.status).toBe(200);
    const valid = new Set(
      await Promise.all(
        [-1, 0, 1].map((o) =>
          generate({ secret: enrolled.body.secret, epoch: Math.floor(Date.now() / 1000) + o * 30 }),
        ),
      ),
    );
    const wrong = Array.from({ length: 60 }, (_, i) => String(100000 + i * 7919)).filter(
      (c) => !valid.has(c),
    );
    const responses = await Promise.all(
      wrong.slice(0, 50).map((code, i) =>
        api.call('POST', 'accounts/totp/confirm/', {
          token: user.access,
          // Wrong passwords and wrong codes use up the same allowance.
          body: { password: i % 2 ? GOOD : 'not the password', code },
          headers: { 'x-forwarded-for': from },
        }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(count(statuses, 400)).toBe(LIMIT);
    expect(count(statuses, 429)).toBe(50 - LIMIT);
  });

  it('keys on the account and the client IP: a stranger elsewhere cannot lock the user out', async () => {
    const user = await newUser(api);
    const attacker = nextIp();
    const owner = nextIp();
    for (let i = 0; i < LIMIT; i++) {
      expect((await login(api, user.username, 'wrong password', attacker)).status).toBe(401);
    }
    expectLimited(await login(api, user.username, GOOD, attacker));
    expect((await login(api, user.username, GOOD, owner)).status).toBe(200);
  });

  it('counts every spelling of a username as one account', async () => {
    const user = await newUser(api, 'CaseUser');
    const from = nextIp();
    const spellings = [user.username, user.username.toLowerCase(), user.username.toUpperCase()];
    for (let i = 0; i < LIMIT; i++) {
      expect((await login(api, spellings[i % 3]!, 'wrong password', from)).status).toBe(401);
    }
    for (const name of spellings) expectLimited(await login(api, name, GOOD, from));
  });
});

it('each lock lasts twice as long as the one before, up to RATE_LIMIT_LOGIN_MAX_LOCK', async () => {
  const api = await apiWith({ RATE_LIMIT_LOGIN_FAILURES: '2/1m', RATE_LIMIT_LOGIN_MAX_LOCK: '4m' });
  const user = await newUser(api);
  const lockFor = async () => {
    for (let i = 0; i < 2; i++) expect((await login(api, user.username, 'wrong password')).status).toBe(401);
    const locked = await login(api, user.username, GOOD);
    expectLimited(locked);
    return Number(locked.headers.get('retry-after'));
  };
  // Instead of waiting a lock out, move its end into the past.
  const endLock = (agoSeconds = 0) =>
    api.db.orm.em
      .fork()
      .execute(`update login_guards set window_ends_at = now() - make_interval(secs => ?) where key like ?`, [
        agoSeconds,
        `login:${user.username.toLowerCase()}:%`,
      ]);
  const locks: number[] = [];
  for (let i = 0; i < 4; i++) {
    locks.push(await lockFor());
    await endLock();
  }
  expect(locks).toEqual([60, 120, 240, 240]);
  // A successful sign-in clears the back-off...
  expect((await login(api, user.username, GOOD)).status).toBe(200);
  expect(await lockFor()).toBe(60);
  await endLock();
  expect(await lockFor()).toBe(120);
  // ...and so does a quiet RATE_LIMIT_LOGIN_MAX_LOCK.
  await endLock(4 * 60);
  expect(await lockFor()).toBe(60);
});

it('forgets keys that were quiet for RATE_LIMIT_LOGIN_MAX_LOCK', async () => {
  const api = await apiWith({ RATE_LIMIT_LOGIN_MAX_LOCK: '1h' });
  const em = api.db.orm.em.fork();
  await em.execute(
    `insert into login_guards (key, attempts, window_ends_at, lockouts) values
       ('login:stale:203.0.113.1', 9, now() - interval '61 minutes', 3),
       ('login:recent:203.0.113.1', 9, now() - interval '59 minutes', 3)`,
  );
  expect((await login(api, 'someone_else', 'wrong password')).status).toBe(401);
  const rows = await em.execute<{ key: string }[]>(
    `select key from login_guards where key like 'login:%:203.0.113.1' order by key`,
  );
  expect(rows.map((r) => r.key)).toEqual(['login:recent:203.0.113.1']);
});
