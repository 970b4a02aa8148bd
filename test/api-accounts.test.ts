import { createHmac } from 'node:crypto';
import { ADMIN, login, newUser, startApi, type TestApi } from './support/api.js';

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
    const access = await login(api, user.username, 'correct horse battery');
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
