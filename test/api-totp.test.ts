import { generate } from 'otplib';
import { newUser, startApi, USER_PASSWORD, type TestApi } from './support/api.js';

const PASSWORD = USER_PASSWORD;
const STEP = 30;

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => api.close());

/** The code for the step `offset` steps away from now (the server allows ±1). */
const codeAt = (secret: string, offset = 0) =>
  generate({ secret, epoch: Math.floor(Date.now() / 1000) + offset * STEP });

/** A well-formed code that is none of the ones the server would accept right now. */
async function wrongCode(secret: string): Promise<string> {
  const valid = new Set(await Promise.all([-2, -1, 0, 1, 2].map((o) => codeAt(secret, o))));
  let n = Number(await codeAt(secret));
  let candidate: string;
  do {
    n = (n + 1) % 1_000_000;
    candidate = String(n).padStart(6, '0');
  } while (valid.has(candidate));
  return candidate;
}

/**
 * A test needs this long, with room to spare on a loaded machine, between enabling TOTP and its
 * last request (each of these tests takes well under a second).
 */
const MARGIN_S = 5;

/**
 * Tests that use the previous step's code must not cross a step boundary halfway: wait for a fresh
 * step when the current one is nearly over.
 */
async function awayFromStepEdge(): Promise<void> {
  const into = (Date.now() / 1000) % STEP;
  if (into > STEP - MARGIN_S) await new Promise((r) => setTimeout(r, (STEP - into + 0.2) * 1000));
}

const loginWith = (username: string, extra: Record<string, unknown> = {}, password = PASSWORD) =>
  api.call('POST', 'accounts/auth/login/', { body: { username, password, ...extra } });

const enroll = async (access: string): Promise<string> => {
  const res = await api.call('POST', 'accounts/totp/enroll/', {
    token: access,
    body: { password: PASSWORD },
  });
  expect(res.status).toBe(200);
  return res.body.secret;
};

/**
 * A user with TOTP enabled, confirmed with the previous step's code (so that code is used up), early
 * enough in a step that the caller has MARGIN_S before the server's window moves on.
 */
async function enabledUser() {
  await awayFromStepEdge();
  const user = await newUser(api, 'totp');
  const secret = await enroll(user.access);
  const res = await api.call('POST', 'accounts/totp/confirm/', {
    token: user.access,
    body: { password: PASSWORD, code: await codeAt(secret, -1) },
  });
  expect(res).toMatchObject({ status: 200, body: { totp_enabled: true } });
  return { ...user, secret };
}

describe('TOTP enrolment', () => {
  it('returns a secret and an otpauth URI naming the issuer and the username', async () => {
    const user = await newUser(api, 'totp');
    const res = await api.call('POST', 'accounts/totp/enroll/', {
      token: user.access,
      body: { password: PASSWORD },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const { secret, otpauth_url } = res.body;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(otpauth_url);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe(`/Crypto Purchase:${user.username}`);
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(uri.searchParams.get('issuer')).toBe('Crypto Purchase');
    expect(otpauth_url).toContain(user.username);
    expect(otpauth_url).toContain(secret);
  });

  it('refuses a wrong confirmation code with 400 and leaves TOTP off', async () => {
    const user = await newUser(api, 'totp');
    const secret = await enroll(user.access);
    const res = await api.call('POST', 'accounts/totp/confirm/', {
      token: user.access,
      body: { password: PASSWORD, code: await wrongCode(secret) },
    });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_otp' } } });
    // Still off: a pending secret is not enforced.
    expect((await loginWith(user.username)).status).toBe(200);
  });

  it('replaces a pending secret when enrolling again before confirming', async () => {
    const user = await newUser(api, 'totp');
    const first = await enroll(user.access);
    const second = await enroll(user.access);
    expect(second).not.toBe(first);
    const stale = await api.call('POST', 'accounts/totp/confirm/', {
      token: user.access,
      body: { password: PASSWORD, code: await codeAt(first) },
    });
    expect(stale).toMatchObject({ status: 400, body: { error: { code: 'invalid_otp' } } });
    const fresh = await api.call('POST', 'accounts/totp/confirm/', {
      token: user.access,
      body: { password: PASSWORD, code: await codeAt(second) },
    });
    expect(fresh).toMatchObject({ status: 200, body: { totp_enabled: true } });
  });

  it('answers 409 to enrolling while TOTP is enabled, and keeps the secret', async () => {
    const user = await enabledUser();
    const res = await api.call('POST', 'accounts/totp/enroll/', {
      token: user.access,
      body: { password: PASSWORD },
    });
    expect(res).toMatchObject({ status: 409, body: { error: { code: 'totp_already_enabled' } } });
    expect((await loginWith(user.username, { otp: await codeAt(user.secret) })).status).toBe(200);
  });

  it.each([
    ['enroll/', { password: PASSWORD }],
    ['confirm/', { password: PASSWORD, code: '123456' }],
    ['disable/', { password: PASSWORD, code: '123456' }],
  ])('requires an access token for %s', async (path, body) => {
    const res = await api.call('POST', `accounts/totp/${path}`, { body });
    expect(res).toMatchObject({ status: 401, body: { error: { code: 'invalid_token' } } });
  });

  it.each([
    ['five digits', { code: '12345' }],
    ['seven digits', { code: '1234567' }],
    ['letters', { code: '12a456' }],
    ['a boolean', { code: true }],
    ['null', { code: null }],
    ['no code', {}],
    ['an extra field', { code: '123456', secret: 'AAAA' }],
  ])('refuses a confirmation with %s with 400', async (_name, body) => {
    const user = await newUser(api, 'totp');
    await enroll(user.access);
    const res = await api.call('POST', 'accounts/totp/confirm/', {
      token: user.access,
      body: { password: PASSWORD, ...body },
    });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'validation_error' } } });
  });
});

describe('login with TOTP enabled', () => {
  it('needs the code, accepts each code once, and takes the next step', async () => {
    const user = await enabledUser();

    const missing = await loginWith(user.username);
    expect(missing).toMatchObject({ status: 401, body: { error: { code: 'otp_required' } } });

    const wrong = await loginWith(user.username, { otp: await wrongCode(user.secret) });
    expect(wrong).toMatchObject({ status: 401, body: { error: { code: 'invalid_otp' } } });

    const now = await codeAt(user.secret);
    const ok = await loginWith(user.username, { otp: now });
    expect(ok.status).toBe(200);
    expect(ok.body.access).toEqual(expect.any(String));
    expect((await api.call('GET', 'accounts/wallet/', { token: ok.body.access })).status).toBe(200);

    const replay = await loginWith(user.username, { otp: now });
    expect(replay).toMatchObject({ status: 401, body: { error: { code: 'invalid_otp' } } });

    // The code confirming the enrolment (previous step) is used up too.
    const confirmCode = await loginWith(user.username, { otp: await codeAt(user.secret, -1) });
    expect(confirmCode).toMatchObject({ status: 401, body: { error: { code: 'invalid_otp' } } });

    const next = await loginWith(user.username, { otp: await codeAt(user.secret, 1) });
    expect(next.status).toBe(200);
  });

  it('refuses a code two steps ahead (only ±1 step of drift)', async () => {
    const user = await enabledUser();
    const res = await loginWith(user.username, { otp: await codeAt(user.secret, 2) });
    expect(res).toMatchObject({ status: 401, body: { error: { code: 'invalid_otp' } } });
  });

  it('answers a wrong password as for an unknown user, whatever the code', async () => {
    const user = await enabledUser();
    const otp = await codeAt(user.secret, 1);
    const wrong = await loginWith(user.username, { otp }, 'wrong password');
    const unknown = await loginWith('nobody_here', { otp }, 'wrong password');
    expect(wrong).toMatchObject({ status: 401, body: { error: { code: 'invalid_credentials' } } });
    expect(wrong.body).toEqual(unknown.body);
    // The code was not consumed by the failed attempt.
    expect((await loginWith(user.username, { otp })).status).toBe(200);
  });

  it.each([['12345'], ['abcdef'], ['1234567']])('refuses the malformed otp %s with 400', async (otp) => {
    const user = await newUser(api, 'totp');
    const res = await loginWith(user.username, { otp });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'validation_error' } } });
  });
});

describe('disabling TOTP', () => {
  it('needs a fresh valid code, then login works without one', async () => {
    const user = await enabledUser();

    const wrong = await api.call('POST', 'accounts/totp/disable/', {
      token: user.access,
      body: { password: PASSWORD, code: await wrongCode(user.secret) },
    });
    expect(wrong).toMatchObject({ status: 400, body: { error: { code: 'invalid_otp' } } });
    // The confirmation's code is used up, so it cannot disable either.
    const used = await api.call('POST', 'accounts/totp/disable/', {
      token: user.access,
      body: { password: PASSWORD, code: await codeAt(user.secret, -1) },
    });
    expect(used).toMatchObject({ status: 400, body: { error: { code: 'invalid_otp' } } });
    expect((await loginWith(user.username)).body.error.code).toBe('otp_required');

    const res = await api.call('POST', 'accounts/totp/disable/', {
      token: user.access,
      body: { password: PASSWORD, code: await codeAt(user.secret) },
    });
    expect(res).toMatchObject({ status: 200, body: { totp_enabled: false } });
    expect((await loginWith(user.username)).status).toBe(200);

    const again = await api.call('POST', 'accounts/totp/disable/', {
      token: user.access,
      body: { password: PASSWORD, code: await codeAt(user.secret, 1) },
    });
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'totp_not_enabled' } } });
  });
});

describe('two-factor changes need the current password', () => {
  it.each(['enroll/', 'confirm/', 'disable/'])('refuses %s without a password with 400', async (path) => {
    const user = await enabledUser();
    const body = path === 'enroll/' ? {} : { code: await codeAt(user.secret) };
    const res = await api.call('POST', `accounts/totp/${path}`, { token: user.access, body });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'validation_error' } } });
  });

  it('refuses enroll with a wrong password and stores no secret', async () => {
    const user = await newUser(api, 'totp');
    const res = await api.call('POST', 'accounts/totp/enroll/', {
      token: user.access,
      body: { password: 'not the password' },
    });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_password' } } });
    const [row] = await api.db.orm.em
      .fork()
      .execute('select totp_secret from users where lower(username) = lower(?)', [user.username]);
    expect(row!.totp_secret).toBeNull();
  });

  it('refuses confirm with a wrong password and a right code, leaving TOTP off and the code unused', async () => {
    await awayFromStepEdge();
    const user = await newUser(api, 'totp');
    const secret = await enroll(user.access);
    const code = await codeAt(secret);
    const wrong = await api.call('POST', 'accounts/totp/confirm/', {
      token: user.access,
      body: { password: 'not the password', code },
    });
    expect(wrong).toMatchObject({ status: 400, body: { error: { code: 'invalid_password' } } });
    expect((await loginWith(user.username)).status).toBe(200);
    const right = await api.call('POST', 'accounts/totp/confirm/', {
      token: user.access,
      body: { password: PASSWORD, code },
    });
    expect(right).toMatchObject({ status: 200, body: { totp_enabled: true } });
  });

  it('refuses disable with a wrong password and a right code, leaving TOTP on', async () => {
    const user = await enabledUser();
    const res = await api.call('POST', 'accounts/totp/disable/', {
      token: user.access,
      body: { password: 'not the password', code: await codeAt(user.secret) },
    });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_password' } } });
    expect((await loginWith(user.username)).body.error.code).toBe('otp_required');
  });
});

describe('two-factor changes end the other sessions', () => {
  const refresh = (token: string) => api.call('POST', 'accounts/auth/refresh/', { body: { refresh: token } });

  it('confirm revokes every other refresh-token family and keeps the caller’s', async () => {
    await awayFromStepEdge();
    const user = await newUser(api, 'totp');
    const other = await loginWith(user.username);
    expect(other.status).toBe(200);
    const secret = await enroll(user.access);
    const res = await api.call('POST', 'accounts/totp/confirm/', {
      token: user.access,
      body: { password: PASSWORD, code: await codeAt(secret) },
    });
    expect(res.status).toBe(200);
    expect((await refresh(other.body.refresh)).status).toBe(401);
    expect((await refresh(user.refresh)).status).toBe(200);
  });

  it('disable revokes every other refresh-token family and keeps the caller’s', async () => {
    const user = await enabledUser();
    const other = await loginWith(user.username, { otp: await codeAt(user.secret) });
    expect(other.status).toBe(200);
    const res = await api.call('POST', 'accounts/totp/disable/', {
      token: user.access,
      body: { password: PASSWORD, code: await codeAt(user.secret, 1) },
    });
    expect(res.status).toBe(200);
    expect((await refresh(other.body.refresh)).status).toBe(401);
    expect((await refresh(user.refresh)).status).toBe(200);
  });

  it('a failed change revokes nothing', async () => {
    const user = await enabledUser();
    const other = await loginWith(user.username, { otp: await codeAt(user.secret) });
    const res = await api.call('POST', 'accounts/totp/disable/', {
      token: user.access,
      body: { password: PASSWORD, code: await wrongCode(user.secret) },
    });
    expect(res.status).toBe(400);
    expect((await refresh(other.body.refresh)).status).toBe(200);
  });
});
