import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createApiMetrics, serveApiMetrics } from '../src/metrics/api-metrics.js';
import { newUser, type TestApi, apisPerFile } from './support/api.js';

const apiWith = apisPerFile();

let api: TestApi;
beforeAll(async () => {
  api = await apiWith();
});

/** Writes `request` on a raw socket and collects everything the server sends until it closes. */
function rawExchange(
  baseUrl: string,
  request: string,
  giveUpMs = 10_000,
): Promise<{ text: string; closedAfterMs: number }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(Number(port), hostname, () => socket.write(request));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (text += chunk));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${giveUpMs} ms; got: ${text}`));
    }, giveUpMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - started });
    });
    socket.on('error', () => undefined); // a reset after the answer still ends in 'close'
  });
}

const jsonBody = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));

describe('timeouts', () => {
  it('a body announced and never sent gets 408 and a closed connection within the request timeout', async () => {
    const slow = await apiWith({ HTTP_REQUEST_TIMEOUT: '600ms', HTTP_CONNECTION_TIMEOUT: '5s' });
    const user = await newUser(slow);
    const { text, closedAfterMs } = await rawExchange(
      slow.url,
      `PATCH /api/v1/accounts/wallet/deposit/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.access}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"amount":',
    );
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(jsonBody(text)).toEqual({ error: { code: 'request_timeout', message: expect.any(String) } });
    expect(closedAfterMs).toBeGreaterThanOrEqual(500);
    expect(closedAfterMs).toBeLessThan(3_000);
    // Nothing was deposited.
    const wallet = await slow.call('GET', 'accounts/wallet/', { token: user.access });
    expect(wallet.body).toEqual({ balance: '0.00' });
  });

  it('an idle connection is closed after the connection timeout', async () => {
    const slow = await apiWith({ HTTP_REQUEST_TIMEOUT: '30s', HTTP_CONNECTION_TIMEOUT: '700ms' });
    const { text, closedAfterMs } = await rawExchange(slow.url, '');
    expect(text).toBe('');
    expect(closedAfterMs).toBeGreaterThanOrEqual(600);
    expect(closedAfterMs).toBeLessThan(3_000);
  });
});

describe('input strictness', () => {
  it('refuses a body that repeats a key, at any depth, and moves no money', async () => {
    const user = await newUser(api);
    const deposit = (body: string) =>
      api.call('PATCH', 'accounts/wallet/deposit/', { token: user.access, body });
    const twice = await deposit('{"amount":"1","amount":"999"}');
    expect(twice).toMatchObject({ status: 400, body: { error: { code: 'duplicate_key' } } });
    expect(twice.body.error.message).toContain('"amount"');
    // The same key spelled with an escape is the same key.
    expect((await deposit('{"amount":"1","\\u0061mount":"999"}')).body.error.code).toBe('duplicate_key');
    expect((await deposit('{"__proto__":{"x":1},"amount":"1"}')).body.error.code).toBe('forbidden_key');
    const wallet = await api.call('GET', 'accounts/wallet/', { token: user.access });
    expect(wallet.body).toEqual({ balance: '0.00' });
    // The same key in sibling objects, in arrays and as a value is fine.
    expect((await deposit('{"amount":"2"}')).body).toEqual({ balance: '2.00' });
    const nested = await api.call('POST', 'accounts/auth/register/', {
      body: '{"username":"dup_nested","password":"correct horse battery","x":{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}}',
    });
    // Refused for the unknown key "x", not for a duplicate.
    expect(nested.body.error.code).toBe('validation_error');
    const deep = await api.call('POST', 'orders/', {
      token: user.access,
      body: '{"crypto":"ABAN","amount":1,"x":{"a":1,"a":2}}',
    });
    expect(deep.body.error.code).toBe('duplicate_key');
  });

  it('refuses a JSON number where a string is expected, with no coercion', async () => {
    const res = await api.call('POST', 'accounts/auth/register/', {
      body: '{"username":123456,"password":"correct horse battery"}',
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
    expect(res.body.error.message).toMatch(/username: .*expected string, received number/);
    const login = await api.call('POST', 'accounts/auth/login/', {
      body: '{"username":"admin","password":12345678}',
    });
    expect(login.status).toBe(400);
    // Amounts still take a JSON number, exactly.
    const user = await newUser(api);
    const deposit = await api.call('PATCH', 'accounts/wallet/deposit/', {
      token: user.access,
      body: '{"amount":12.50}',
    });
    expect(deposit.body).toEqual({ balance: '12.50' });
  });

  it('caps an error about thousands of unknown fields to a short message', async () => {
    const user = await newUser(api);
    const fields = Object.fromEntries(Array.from({ length: 6000 }, (_, i) => [`k${i}`, 1]));
    const res = await api.call('PATCH', 'accounts/wallet/deposit/', {
      token: user.access,
      body: { amount: '1', ...fields },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('"k0", "k1"');
    expect(res.body.error.message).toContain('and 5990 more');
    expect(JSON.stringify(res.body).length).toBeLessThan(1_000);
  });

  it("answers the HTTP parser's own refusals (a NUL in a header) in the JSON error shape", async () => {
    const { text } = await rawExchange(api.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\0b\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toMatch(/content-type: application\/json/i);
    expect(jsonBody(text)).toEqual({ error: { code: 'malformed_request', message: expect.any(String) } });
  });
});

describe('caching', () => {
  it('token, account and wallet responses say Cache-Control: no-store', async () => {
    const user = await newUser(api);
    const token = user.access;
    const responses = [
      await api.call('POST', 'accounts/auth/register/', {
        body: { username: `nostore${process.pid}`, password: 'correct horse battery' },
      }),
      await api.call('POST', 'accounts/auth/login/', {
        body: { username: user.username, password: 'correct horse battery' },
      }),
      await api.call('POST', 'accounts/auth/refresh/', { body: { refresh: user.refresh } }),
      await api.call('GET', 'accounts/wallet/', { token }),
      await api.call('PATCH', 'accounts/wallet/deposit/', { token, body: { amount: '5' } }),
      await api.call('POST', 'accounts/wallet/withdraw/', { token, body: { amount: '1' } }),
      await api.call('GET', 'accounts/holdings/', { token }),
      await api.call('POST', 'accounts/totp/enroll/', { token, body: {} }),
      await api.call('GET', 'transactions/', { token }),
      await api.call('GET', 'accounts/wallet/'), // 401
    ];
    for (const res of responses) expect(res.headers.get('cache-control')).toBe('no-store');
    expect(responses.slice(0, 7).map((r) => r.status)).toEqual([201, 200, 200, 200, 200, 200, 200]);
  });
});

describe('metrics', () => {
  it('the public port has no /metrics; the internal server has them', async () => {
    expect((await api.call('GET', '/metrics')).status).toBe(404);
    const server = serveApiMetrics(api.app.metrics, 0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await fetch(`${base}/metrics`);
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(await res.text()).toMatch(/^pool_orders\{crypto="ABAN"\} \d+$/m);
      expect((await fetch(`${base}/other`)).status).toBe(404);
    } finally {
      server.close();
    }
  });

  it('scrapes within the cache TTL reuse one read of Postgres and Temporal', async () => {
    const cached = await apiWith({ API_METRICS_CACHE_TTL: '1h' });
    const scrape = () => cached.app.metrics.registry.metrics();
    const before = await scrape();
    expect(before).toMatch(/^pool_orders\{crypto="ETH"\} 0$/m);
    await cached.db.orm.em.fork().execute("update crypto_currencies set active = false where name = 'ETH'");
    // A storm of scrapes still sees the cached figures: none of them went back to the database.
    const storm = await Promise.all(Array.from({ length: 20 }, scrape));
    for (const text of storm) expect(text).toMatch(/^pool_orders\{crypto="ETH"\} 0$/m);
    // Without the cache the change shows at once.
    const fresh = createApiMetrics(cached.db.orm, cached.temporal, {
      cacheTtlMs: 0,
      poolMaxWaitMs: cached.env.AGGREGATION_MAX_WAIT,
      reviewTimeoutMs: cached.env.FRAUD_REVIEW_TIMEOUT,
    });
    const uncached = await fresh.registry.metrics();
    expect(uncached).toMatch(/^pool_orders\{crypto="ABAN"\} 0$/m);
    expect(uncached).not.toMatch(/crypto="ETH"/);
  });
});

describe('content security policy', () => {
  it('the JSON API allows nothing to load', async () => {
    const res = await api.call('GET', 'exchanges/crypto-currencies/');
    expect(res.headers.get('content-security-policy')).toBe(
      "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'",
    );
  });
});
