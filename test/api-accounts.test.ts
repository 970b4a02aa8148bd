import { createHmac } from 'node:crypto';
import {
  ADMIN,
  login,
  newUser,
  startApi,
  USER_PASSWORD,
  useTestPasswordHashCost,
  type TestApi,
} from './support/api.js';
import { hashPassword, setPasswordHashCost } from '../src/services/accounts.js';

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => api.close());

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
function forge(header: object, payload: object, key: string): string {
  const unsigned = `${b64url(header)}.${b64url(payload)}`;
  return `${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`;
}

describe('register and login', () => {
  it('registers a user with a 0.00 wallet and logs in', async () => {
    const user = await newUser(api);
    expect(user.access).toEqual(expect.any(String));
    expect(user.refresh).toEqual(expect.any(String));
    const wallet = await api.call('GET', 'accounts/wallet/', { token: user.access });
    expect(wallet).toMatchObject({ status: 200, body: { balance: '0.00' } });
    const access = await login(api, user.username, USER_PASSWORD);
    expect((await api.call('GET', 'accounts/wallet', { token: access })).status).toBe(200);
  });

  it('refuses a taken username with 409', async () => {
    const user = await newUser(api);
    const res = await api.call('POST', 'accounts/auth/register/', {
      body: { username: user.username, password: 'another password' },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('username_taken');
  });

  it.each([
    [{ username: 'ab', password: 'long enough pw' }],
    [{ username: 'valid_name', password: 'short' }],
    [{ username: 'valid name', password: 'long enough pw' }],
    [{ username: 'valid_name' }],
    [{ username: 'valid_name', password: 'long enough pw', role: 'admin' }],
    ['not json'],
  ])('refuses the invalid registration %j with 400', async (body) => {
    const res = await api.call('POST', 'accounts/auth/register/', { body });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual(
      expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
    );
  });

  it('answers 401 to a wrong password and to an unknown user, alike', async () => {
    const wrong = await api.call('POST', 'accounts/auth/login/', {
      body: { username: ADMIN.username, password: 'wrong password' },
    });
    const unknown = await api.call('POST', 'accounts/auth/login/', {
      body: { username: 'nobody_here', password: 'wrong password' },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
  });
});

describe('password hashes', () => {
  const storedHash = async (username: string) => {
    const [row] = await api.db.orm.em
      .fork()
      .execute<{ password_hash: string }[]>('select password_hash from users where username = ?', [username]);
    return row!.password_hash;
  };

  it('are argon2id at the configured cost', async () => {
    const user = await newUser(api);
    expect(await storedHash(user.username)).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
  });

  it('made at an earlier cost keep verifying after the cost changed', async () => {
    const user = await newUser(api);
    setPasswordHashCost({ memoryCost: 65_536, timeCost: 3, parallelism: 4 });
    const earlier = await hashPassword(USER_PASSWORD);
    useTestPasswordHashCost();
    expect(earlier).toMatch(/^\$argon2id\$v=19\$m=65536,p=4,t=3\$/);
    await api.db.orm.em
      .fork()
      .execute('update users set password_hash = ? where username = ?', [earlier, user.username]);
    expect(await storedHash(user.username)).toBe(earlier);
    expect(
      (
        await api.call('POST', 'accounts/auth/login/', {
          body: { username: user.username, password: USER_PASSWORD },
        })
      ).status,
    ).toBe(200);
    const wrong = await api.call('POST', 'accounts/auth/login/', {
      body: { username: user.username, password: 'wrong password' },
    });
    expect(wrong).toMatchObject({ status: 401, body: { error: { code: 'invalid_credentials' } } });
  });
});

describe('usernames are unique regardless of case', () => {
  it('refuses Alice once alice exists, logs in with any spelling and keeps the first spelling', async () => {
    const name = `Alice_${process.pid}`;
    const first = await api.call('POST', 'accounts/auth/register/', {
      body: { username: name, password: USER_PASSWORD },
    });
    expect(first.status).toBe(201);
    for (const spelling of [name.toLowerCase(), name.toUpperCase()]) {
      const again = await api.call('POST', 'accounts/auth/register/', {
        body: { username: spelling, password: USER_PASSWORD },
      });
      expect(again).toMatchObject({ status: 409, body: { error: { code: 'username_taken' } } });
    }
    for (const spelling of [name, name.toLowerCase(), name.toUpperCase()]) {
      expect(await login(api, spelling, USER_PASSWORD)).toEqual(expect.any(String));
    }
    const [row] = await api.db.orm.em
      .fork()
      .execute<{ username: string; n: string }[]>(
        'select min(username) as username, count(*) as n from users where lower(username) = lower(?)',
        [name],
      );
    expect(row).toEqual({ username: name, n: '1' });
  });

  it('the database itself refuses a second spelling', async () => {
    const name = `Bob_${process.pid}`;
    await api.call('POST', 'accounts/auth/register/', { body: { username: name, password: USER_PASSWORD } });
    await expect(
      api.db.orm.em
        .fork()
        .execute(`insert into users (username, password_hash) values (?, 'x')`, [name.toLowerCase()]),
    ).rejects.toThrow(/users_username_lower_unique/);
  });
});

describe('password policy', () => {
  it.each([
    ['a common password', 'x_policy_a', 'password'],
    ['eight spaces', 'x_policy_b', '        '],
    ['a keyboard walk', 'x_policy_c', 'qwertyuiop'],
    ['the username', 'x_policy_d_long', 'x_policy_d_long'],
    ['the username in another case', 'x_policy_e_long', 'X_POLICY_E_LONG'],
    ['a password containing the username', 'x_policy_f', 'my x_policy_f secret'],
    ['a common password with a digit', 'x_policy_g', 'password1'],
  ])('refuses %s with 400 weak_password and creates nothing', async (_name, username, password) => {
    const res = await api.call('POST', 'accounts/auth/register/', { body: { username, password } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('weak_password');
    expect(res.body.error.message).toMatch(/password/);
    const [row] = await api.db.orm.em
      .fork()
      .execute<{ n: string }[]>('select count(*) as n from users where lower(username) = lower(?)', [
        username,
      ]);
    expect(row!.n).toBe('0');
  });

  it('says why', async () => {
    const contains = await api.call('POST', 'accounts/auth/register/', {
      body: { username: 'x_policy_h', password: 'x_policy_h-2024' },
    });
    expect(contains.body.error.message).toBe('the password must not contain the username');
    const common = await api.call('POST', 'accounts/auth/register/', {
      body: { username: 'x_policy_i', password: 'password' },
    });
    expect(common.body.error.message).toMatch(/too common or too easy to guess/);
  });

  it('accepts a long passphrase of ordinary words, with no composition rules', async () => {
    const res = await api.call('POST', 'accounts/auth/register/', {
      body: { username: 'x_policy_ok', password: 'purple tractor singing' },
    });
    expect(res.status).toBe(201);
  });
});

describe('refresh tokens', () => {
  it('rotates, and a reused token revokes the whole family', async () => {
    const user = await newUser(api);
    const first = await api.call('POST', 'accounts/auth/refresh/', { body: { refresh: user.refresh } });
    expect(first.status).toBe(200);
    expect(first.body.refresh).not.toBe(user.refresh);

    const reuse = await api.call('POST', 'accounts/auth/refresh/', { body: { refresh: user.refresh } });
    expect(reuse.status).toBe(401);
    // The rotated token was issued in the same family, so the reuse revoked it too.
    const afterTheft = await api.call('POST', 'accounts/auth/refresh/', {
      body: { refresh: first.body.refresh },
    });
    expect(afterTheft.status).toBe(401);
  });

  it('logout revokes the refresh token', async () => {
    const user = await newUser(api);
    expect(
      (await api.call('POST', 'accounts/auth/logout/', { body: { refresh: user.refresh } })).status,
    ).toBe(204);
    expect(
      (await api.call('POST', 'accounts/auth/refresh/', { body: { refresh: user.refresh } })).status,
    ).toBe(401);
  });

  it('does not accept an access token as a refresh token, nor the reverse', async () => {
    const user = await newUser(api);
    expect(
      (await api.call('POST', 'accounts/auth/refresh/', { body: { refresh: user.access } })).status,
    ).toBe(401);
    expect((await api.call('GET', 'accounts/wallet/', { token: user.refresh })).status).toBe(401);
  });
});

describe('access tokens', () => {
  const claims = () => ({
    sub: '1',
    role: 'admin',
    typ: 'access',
    iss: api.env.JWT_ISSUER,
    aud: api.env.JWT_AUDIENCE,
    iat: Math.floor(Date.now() / 1000),
    exp: Math.floor(Date.now() / 1000) + 600,
  });

  it('accepts a correctly signed token (the forging helper itself is right)', async () => {
    const token = forge({ alg: 'HS256', typ: 'JWT' }, claims(), api.env.JWT_SECRET);
    expect((await api.call('GET', 'accounts/wallet/', { token })).status).toBe(200);
  });

  it.each([
    ['no token', () => undefined],
    ['garbage', () => 'not.a.token'],
    ['alg none', () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`],
    [
      'another key',
      () => forge({ alg: 'HS256', typ: 'JWT' }, claims(), 'some-other-secret-0123456789abcdef'),
    ],
    ['HS512', () => forge({ alg: 'HS512', typ: 'JWT' }, claims(), api.env.JWT_SECRET)],
    [
      'wrong issuer',
      () => forge({ alg: 'HS256', typ: 'JWT' }, { ...claims(), iss: 'evil' }, api.env.JWT_SECRET),
    ],
    [
      'wrong audience',
      () => forge({ alg: 'HS256', typ: 'JWT' }, { ...claims(), aud: 'evil' }, api.env.JWT_SECRET),
    ],
    [
      'expired',
      () =>
        forge(
          { alg: 'HS256', typ: 'JWT' },
          { ...claims(), exp: Math.floor(Date.now() / 1000) - 5 },
          api.env.JWT_SECRET,
        ),
    ],
  ])('refuses %s with 401', async (_name, token) => {
    const res = await api.call('GET', 'accounts/wallet/', { token: token() });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBeDefined();
  });
});

describe('token claims', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const full = (sub: string) => ({
    sub,
    role: 'user',
    typ: 'access',
    iss: api.env.JWT_ISSUER,
    aud: api.env.JWT_AUDIENCE,
    iat: now(),
    exp: now() + 600,
  });
  const sign = (payload: object) => forge({ alg: 'HS256', typ: 'JWT' }, payload, api.env.JWT_SECRET);
  const idOf = async (username: string) => {
    const [row] = await api.db.orm.em
      .fork()
      .execute<{ id: number }[]>('select id from users where username = ?', [username]);
    return String(row!.id);
  };

  it.each(['exp', 'iss', 'aud', 'sub', 'typ'])('refuses a token without %s with 401', async (claim) => {
    const user = await newUser(api);
    const payload: Record<string, unknown> = full(await idOf(user.username));
    expect((await api.call('GET', 'accounts/wallet/', { token: sign(payload) })).status).toBe(200);
    delete payload[claim];
    const res = await api.call('GET', 'accounts/wallet/', { token: sign(payload) });
    expect(res).toMatchObject({ status: 401, body: { error: { code: 'invalid_token' } } });
  });

  it.each(['0', '-1', '1.5', '1e0', '0x1', ' 1', '01', 'abc', '2147483648', '99999999999999999999', ''])(
    'refuses sub %j with 401, not 500',
    async (sub) => {
      const res = await api.call('GET', 'accounts/wallet/', { token: sign(full(sub)) });
      expect(res).toMatchObject({ status: 401, body: { error: { code: 'invalid_token' } } });
    },
  );

  it.each([[1], [null], [true]])('refuses a non-string sub %j with 401', async (sub) => {
    const res = await api.call('GET', 'accounts/wallet/', { token: sign({ ...full('1'), sub }) });
    expect(res.status).toBe(401);
  });

  it('refuses a refresh token whose sub, jti or fam is malformed with 401, not 500', async () => {
    const base = { ...full('1'), typ: 'refresh', jti: crypto.randomUUID(), fam: crypto.randomUUID() };
    for (const payload of [
      { ...base, sub: 'abc' },
      { ...base, jti: 'not-a-uuid' },
      { ...base, fam: 'not-a-uuid' },
    ]) {
      const res = await api.call('POST', 'accounts/auth/refresh/', { body: { refresh: sign(payload) } });
      expect(res.status).toBe(401);
    }
  });

  it('takes the role from the database, not from the token', async () => {
    const user = await newUser(api);
    const token = sign({ ...full(await idOf(user.username)), role: 'admin' });
    expect((await api.call('GET', 'accounts/wallet/', { token })).status).toBe(200);
    expect((await api.call('GET', 'admin/wallets/', { token })).status).toBe(403);
  });

  it("refuses a deleted user's valid token with 401 at once, on every authenticated route", async () => {
    const user = await newUser(api);
    const id = await idOf(user.username);
    expect((await api.call('GET', 'accounts/wallet/', { token: user.access })).status).toBe(200);
    // A fresh user has no ledger entries, so the rows can go (the ledger itself refuses deletes).
    const em = api.db.orm.em.fork();
    await em.execute('delete from refresh_tokens where user_id = ?', [id]);
    await em.execute('delete from wallets where user_id = ?', [id]);
    await em.execute('delete from users where id = ?', [id]);
    const routes: [string, string, unknown?][] = [
      ['GET', 'accounts/wallet/'],
      ['PATCH', 'accounts/wallet/deposit/', { amount: '10.00' }],
      ['POST', 'accounts/wallet/withdraw/', { amount: '1.00' }],
      ['GET', 'accounts/holdings/'],
      ['POST', 'orders/', { crypto: 'ABAN', amount: 3 }],
      ['GET', 'orders/'],
      ['GET', 'transactions/'],
      ['POST', 'accounts/totp/enroll/', { password: USER_PASSWORD }],
    ];
    for (const [method, path, body] of routes) {
      const res = await api.call(method, path, { token: user.access, body });
      expect({ path, status: res.status, code: res.body?.error?.code }).toEqual({
        path,
        status: 401,
        code: 'invalid_token',
      });
    }
  });
});

describe('health', () => {
  it('serves /healthz and /readyz', async () => {
    expect((await api.call('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await api.call('GET', '/readyz')).body).toEqual({
      status: 'ready',
      postgres: 'ok',
      temporal: 'ok',
    });
  });

  it('answers an unknown route with the JSON error shape', async () => {
    const res = await api.call('GET', 'nope/');
    expect(res).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
  });
});
