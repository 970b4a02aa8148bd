import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { envSchema, loadEnv, passwordHashCost } from '../src/config/env.js';
import { simulatorEnvSchema } from '../src/exchange/simulator/config.js';
import { exchangeOptions, SIMULATOR } from '../src/config/exchange.js';

const example = parseEnv(readFileSync(new URL('../.env.example', import.meta.url), 'utf8'));

describe('configuration', () => {
  it('.env.example lists every setting of the service and the simulator, and nothing else', () => {
    const known = [
      ...new Set([
        ...Object.keys(envSchema.shape),
        ...Object.keys(simulatorEnvSchema.shape),
        'TEMPORAL_CLI_PATH',
        'TEMPORAL_TEST_SERVER_PATH',
      ]),
    ].sort();
    expect(Object.keys(example).sort()).toEqual(known);
  });

  it('.env.example is valid and equals the defaults', () => {
    expect(loadEnv(example)).toEqual(loadEnv({}));
  });

  it('fails fast, listing every invalid setting', () => {
    expect(() =>
      loadEnv({ API_PORT: 'eighty', AGGREGATION_MAX_WAIT: 'soon', RATE_LIMIT_USER: '10' }),
    ).toThrow(
      /Invalid configuration:\n {2}API_PORT: .*\n {2}AGGREGATION_MAX_WAIT: "soon" is not a duration.*\n {2}RATE_LIMIT_USER: "10" is not a limit/,
    );
  });

  const strong = { JWT_SECRET: 'x'.repeat(48), ADMIN_PASSWORD: 'Tested-Ledger-Quartz-71' };

  it.each(['production', 'test'])(
    'refuses to start in %s with the development signing key or a short one',
    (APP_ENV) => {
      expect(() => loadEnv({ APP_ENV, ADMIN_PASSWORD: strong.ADMIN_PASSWORD })).toThrow(
        /JWT_SECRET: must be set to a random value of at least 32 characters/,
      );
      expect(() => loadEnv({ ...strong, APP_ENV, JWT_SECRET: 'x'.repeat(31) })).toThrow(/JWT_SECRET/);
      expect(loadEnv({ ...strong, APP_ENV, JWT_SECRET: 'x'.repeat(32) }).APP_ENV).toBe(APP_ENV);
    },
  );

  it.each(['production', 'test'])(
    'refuses to start in %s with a missing, default or weak admin password',
    (APP_ENV) => {
      expect(() => loadEnv({ APP_ENV, JWT_SECRET: strong.JWT_SECRET })).toThrow(
        /ADMIN_PASSWORD: must be set outside development/,
      );
      expect(() => loadEnv({ ...strong, APP_ENV, ADMIN_PASSWORD: 'admin-dev-password' })).toThrow(
        /ADMIN_PASSWORD: must be set outside development/,
      );
      expect(() => loadEnv({ ...strong, APP_ENV, ADMIN_PASSWORD: 'password' })).toThrow(
        /ADMIN_PASSWORD: the password is too common/,
      );
      expect(() => loadEnv({ ...strong, APP_ENV, ADMIN_PASSWORD: 'my-admin-account' })).toThrow(
        /ADMIN_PASSWORD: the password must not contain the username/,
      );
      const env = loadEnv({ ...strong, APP_ENV });
      expect(env.ADMIN_PASSWORD).toBe(strong.ADMIN_PASSWORD);
    },
  );

  it('lists both problems at once', () => {
    expect(() => loadEnv({ APP_ENV: 'production' })).toThrow(/JWT_SECRET: .*\n {2}ADMIN_PASSWORD: /);
  });

  it("hashes passwords at the argon2 library's own cost by default", () => {
    expect(passwordHashCost(loadEnv({}))).toEqual({ memoryCost: 65_536, timeCost: 3, parallelism: 4 });
  });

  it.each(['development', 'test', 'production'])(
    "refuses a password hash cost below OWASP's minimum in %s, each setting on its own",
    (APP_ENV) => {
      const minimum = {
        PASSWORD_HASH_MEMORY_KIB: '19456',
        PASSWORD_HASH_TIME_COST: '2',
        PASSWORD_HASH_PARALLELISM: '1',
      };
      expect(passwordHashCost(loadEnv({ ...strong, APP_ENV, ...minimum }))).toEqual({
        memoryCost: 19_456,
        timeCost: 2,
        parallelism: 1,
      });
      expect(() => loadEnv({ ...strong, APP_ENV, ...minimum, PASSWORD_HASH_MEMORY_KIB: '19455' })).toThrow(
        /PASSWORD_HASH_MEMORY_KIB: must be at least 19456/,
      );
      expect(() => loadEnv({ ...strong, APP_ENV, ...minimum, PASSWORD_HASH_TIME_COST: '1' })).toThrow(
        /PASSWORD_HASH_TIME_COST: must be at least 2/,
      );
      expect(() => loadEnv({ ...strong, APP_ENV, ...minimum, PASSWORD_HASH_PARALLELISM: '0' })).toThrow(
        /PASSWORD_HASH_PARALLELISM: must be at least 1/,
      );
    },
  );

  it('keeps the published defaults working in development only', () => {
    const env = loadEnv({ APP_ENV: 'development' });
    expect(env.ADMIN_PASSWORD).toBe('admin-dev-password');
    expect(env.JWT_SECRET.length).toBeGreaterThanOrEqual(32);
  });
});

describe('durations', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['15m', 900_000],
    ['1.5h', 5_400_000],
    ['7d', 604_800_000],
    ['2 days', 172_800_000],
    ['1200', 1_200],
    [' 5s ', 5_000],
  ])('reads %j as %d ms', (text, expected) => {
    expect(loadEnv({ AGGREGATION_MAX_WAIT: text }).AGGREGATION_MAX_WAIT).toBe(expected);
  });

  it.each(['soon', '-5s', '1.5ms', '5 parsecs', '1'.repeat(120)])(
    'refuses %j with the usual message',
    (text) => {
      expect(() => loadEnv({ AGGREGATION_MAX_WAIT: text })).toThrow(
        `AGGREGATION_MAX_WAIT: ${JSON.stringify(text)} is not a duration such as 30s, 15m or 24h`,
      );
    },
  );

  it('limits take the same durations for their window', () => {
    expect(loadEnv({ RATE_LIMIT_USER: '10/1.5m' }).RATE_LIMIT_USER).toEqual({ max: 10, windowMs: 90_000 });
    expect(() => loadEnv({ RATE_LIMIT_USER: '10/-1m' })).toThrow(/"10\/-1m" is not a limit/);
  });
});

describe('dollar settings', () => {
  it.each(['1e3', '-1', '0', '10.001', 'ten'])(
    'refuse %j in the service and in the simulator, naming the value',
    (text) => {
      expect(() => loadEnv({ AGGREGATION_THRESHOLD: text })).toThrow(
        new RegExp(`AGGREGATION_THRESHOLD: ${JSON.stringify(text)}`),
      );
      const sim = simulatorEnvSchema.safeParse({ EXCHANGE_SIM_MIN_NOTIONAL: text });
      expect(sim.success).toBe(false);
      expect(sim.error?.issues[0]?.message).toContain(JSON.stringify(text));
    },
  );

  it('parse exactly into cents', () => {
    expect(loadEnv({ AGGREGATION_THRESHOLD: '12.34' }).AGGREGATION_THRESHOLD).toBe(1234n);
    expect(simulatorEnvSchema.parse({ EXCHANGE_SIM_MIN_NOTIONAL: '5' }).EXCHANGE_SIM_MIN_NOTIONAL).toBe(500n);
  });
});

describe('exchange settings', () => {
  const strong = { JWT_SECRET: 'x'.repeat(48), ADMIN_PASSWORD: 'Tested-Ledger-Quartz-71' };

  it('point development at the simulator with its keys when no exchange is configured', () => {
    expect(exchangeOptions(loadEnv({}))).toMatchObject({
      exchangeId: 'binance',
      url: SIMULATOR.url,
      apiKey: SIMULATOR.apiKey,
      secret: SIMULATOR.secret,
      sandbox: false,
      quote: 'USDT',
      markets: {},
      recvWindowMs: 5_000,
      clockMarginMs: 1_000,
    });
    // A moved simulator keeps its keys.
    expect(exchangeOptions(loadEnv({ EXCHANGE_URL: 'http://sim:8100' }))).toMatchObject({
      url: 'http://sim:8100',
      apiKey: SIMULATOR.apiKey,
    });
  });

  it('never default to the simulator once keys or the sandbox are set, or outside development', () => {
    const keys = { EXCHANGE_API_KEY: 'key', EXCHANGE_SECRET: 'secret' };
    expect(exchangeOptions(loadEnv(keys)).url).toBeUndefined();
    expect(() => exchangeOptions(loadEnv({ EXCHANGE_SANDBOX: 'true' }))).toThrow(
      /EXCHANGE_API_KEY: must be set.*\n {2}EXCHANGE_SECRET: must be set/,
    );
    for (const APP_ENV of ['test', 'production']) {
      expect(() => exchangeOptions(loadEnv({ ...strong, APP_ENV }))).toThrow(/EXCHANGE_API_KEY: must be set/);
      const options = exchangeOptions(loadEnv({ ...strong, ...keys, APP_ENV }));
      expect(options).toMatchObject({ apiKey: 'key', secret: 'secret' });
      expect(options.url).toBeUndefined();
    }
  });

  it('read the crypto → market mapping and refuse what is not one', () => {
    expect(loadEnv({ EXCHANGE_MARKETS: 'ABAN=ABAN/USDT, BTC=BTC/USDC' }).EXCHANGE_MARKETS).toEqual({
      ABAN: 'ABAN/USDT',
      BTC: 'BTC/USDC',
    });
    expect(() => loadEnv({ EXCHANGE_MARKETS: 'BTC=BTCUSDT' })).toThrow(
      /EXCHANGE_MARKETS: "BTC=BTCUSDT" is not CRYPTO=BASE\/QUOTE/,
    );
  });

  it('refuse a recvWindow Binance would not accept', () => {
    expect(loadEnv({ EXCHANGE_RECV_WINDOW: '60s' }).EXCHANGE_RECV_WINDOW).toBe(60_000);
    expect(() => loadEnv({ EXCHANGE_RECV_WINDOW: '61s' })).toThrow(/EXCHANGE_RECV_WINDOW: must be between/);
    expect(() => loadEnv({ EXCHANGE_QUOTE: 'usdt' })).toThrow(/EXCHANGE_QUOTE/);
  });
});
