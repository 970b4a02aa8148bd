import { z } from 'zod';
import { parseDuration } from './duration.js';
import { usdSetting } from './settings.js';
import type { FraudConfig } from '../domain/fraud.js';
import { MIN_PASSWORD_HASH_COST, passwordProblem, type PasswordHashCost } from '../domain/password-policy.js';

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration such as 30s, 15m or 24h` });
        return z.NEVER;
      }
      return ms;
    });

/** "N/window": at most N in each window, e.g. "5/15m". */
const limit = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const [count, window] = text.split('/');
      const max = Number(count);
      const windowMs = window ? parseDuration(window) : undefined;
      if (!Number.isInteger(max) || max < 1 || windowMs === undefined || windowMs < 1) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a limit such as 100/1m` });
        return z.NEVER;
      }
      return { max, windowMs };
    });

/** "ABAN=ABAN/USDT,BTC=BTC/USDC" → { ABAN: 'ABAN/USDT', BTC: 'BTC/USDC' }. */
const marketList = z
  .string()
  .optional()
  .transform((text, ctx) => {
    const markets: Record<string, string> = {};
    for (const entry of (text ?? '')
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean)) {
      const match = /^([A-Za-z0-9]{1,10})=([A-Za-z0-9]+\/[A-Za-z0-9]+(?::[A-Za-z0-9]+)?)$/.exec(entry);
      if (!match) {
        ctx.addIssue({ code: 'custom', message: `"${entry}" is not CRYPTO=BASE/QUOTE such as BTC=BTC/USDT` });
        return z.NEVER;
      }
      markets[match[1]!] = match[2]!;
    }
    return markets;
  });

const int = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);
const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

const DEV_JWT_SECRET = 'dev-only-secret-change-me-0123456789abcdef';
export const DEV_ADMIN_PASSWORD = 'admin-dev-password';
const MIN_JWT_SECRET_LENGTH = 32;

export const envSchema = z
  .object({
    APP_ENV: z.enum(['development', 'test', 'production']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

    API_HOST: z.string().default('127.0.0.1'),
    API_PORT: int(8000),
    /** The whole request (headers and body) must arrive within this; 408 otherwise. */
    HTTP_REQUEST_TIMEOUT: duration('30s'),
    /** A connection idle for this long is closed. */
    HTTP_CONNECTION_TIMEOUT: duration('30s'),
    /** The API's /metrics, on a port of its own so the public port never serves it; 0 turns it off. */
    API_METRICS_PORT: int(9463),
    API_METRICS_HOST: z.string().default('127.0.0.1'),
    /** How long a scrape reuses the gauges read from Postgres and Temporal. */
    API_METRICS_CACHE_TTL: duration('5s'),
    /** Swagger UI, ReDoc and openapi.json; unset means on in development only (see docsEnabled). */
    DOCS_ENABLED: z
      .enum(['true', 'false', '1', '0'])
      .optional()
      .transform((v) => (v === undefined ? undefined : v === 'true' || v === '1')),
    DATABASE_URL: z.string().url().optional(),
    DATABASE_POOL_SIZE: int(10),
    /** Named prepared statements (src/db/prepared-statements.ts); off behind a transaction-mode pooler. */
    DATABASE_PREPARED_STATEMENTS: flag(true),
    REDIS_URL: z.string().url().optional(),

    /**
     * Temporal's own connection variables (config/temporal.ts hands them to @temporalio/envconfig).
     * No defaults here: a value set here overrides the config file's profile, so 127.0.0.1:7233 and
     * `default` apply only when neither says.
     */
    TEMPORAL_ADDRESS: z.string().optional(),
    TEMPORAL_NAMESPACE: z.string().optional(),
    /** Temporal Cloud's API key; turns TLS on unless TEMPORAL_TLS=false. */
    TEMPORAL_API_KEY: z.string().optional(),
    TEMPORAL_TLS: z
      .enum(['true', 'false', '1', '0'])
      .optional()
      .transform((v) => (v === undefined ? undefined : v === 'true' || v === '1')),
    TEMPORAL_TLS_CLIENT_CERT_PATH: z.string().optional(),
    TEMPORAL_TLS_CLIENT_CERT_DATA: z.string().optional(),
    TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().optional(),
    TEMPORAL_TLS_CLIENT_KEY_DATA: z.string().optional(),
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: z.string().optional(),
    TEMPORAL_TLS_SERVER_CA_CERT_DATA: z.string().optional(),
    TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
    /** The profile of the config file to use (`default` when unset). */
    TEMPORAL_PROFILE: z.string().optional(),
    /** A temporal.toml; unset, the user's <config dir>/temporalio/temporal.toml is read if it exists. */
    TEMPORAL_CONFIG_FILE: z.string().optional(),
    TEMPORAL_TASK_QUEUE: z.string().default('crypto-purchase'),
    /** Deadline of a call that must reach Temporal (starting an order's workflow, readiness). */
    TEMPORAL_RPC_TIMEOUT: duration('2s'),
    /** How long POST orders/ waits for the debit before answering 202 with the order `placing`. */
    PLACEMENT_TIMEOUT: duration('5s'),
    /** How long a quote's price can be used to place an order (POST quotes/). */
    QUOTE_TTL: duration('30s').refine((ms) => ms >= 1, 'must be more than 0'),

    /** A ccxt exchange id; see config/exchange.ts for how the settings below become the driver's. */
    EXCHANGE_ID: z
      .string()
      .regex(/^[a-z0-9]+$/, 'must be a ccxt exchange id such as binance')
      .default('binance'),
    EXCHANGE_API_KEY: z.string().optional(),
    EXCHANGE_SECRET: z.string().optional(),
    /** The exchange's test network, e.g. Binance's spot testnet. */
    EXCHANGE_SANDBOX: flag(false),
    /** Where the exchange's API is instead of its own address; the simulator in development. */
    EXCHANGE_URL: z.string().url().optional(),
    EXCHANGE_QUOTE: z
      .string()
      .regex(/^[A-Z0-9]{2,10}$/, 'must be an asset code such as USDT')
      .default('USDT'),
    /** Crypto → market where it is not <CRYPTO>/<EXCHANGE_QUOTE>, e.g. "ABAN=ABAN/USDT,BTC=BTC/USDC". */
    EXCHANGE_MARKETS: marketList,
    EXCHANGE_TIMEOUT: duration('5s'),
    /** How long after its timestamp a signed request may still execute (Binance allows up to 60s). */
    EXCHANGE_RECV_WINDOW: duration('5s').refine(
      (ms) => ms >= 1 && ms <= 60_000,
      'must be between 1ms and 60s',
    ),
    /** How far the clock that stamps an attempt may be off the exchange's before a retry could buy twice. */
    EXCHANGE_CLOCK_MARGIN: duration('1s'),
    PRICE_REFRESH_INTERVAL: duration('1m'),

    JWT_SECRET: z.string().default(DEV_JWT_SECRET),
    JWT_ISSUER: z.string().default('crypto-purchase'),
    JWT_AUDIENCE: z.string().default('crypto-purchase-api'),
    JWT_ACCESS_TTL: duration('15m'),
    JWT_REFRESH_TTL: duration('7d'),

    ADMIN_USERNAME: z.string().default('admin'),
    ADMIN_PASSWORD: z.string().min(8).default(DEV_ADMIN_PASSWORD),
    /** argon2id cost of new password hashes; the defaults are the library's (64 MiB, t=3, p=4). */
    PASSWORD_HASH_MEMORY_KIB: int(65_536),
    PASSWORD_HASH_TIME_COST: int(3),
    PASSWORD_HASH_PARALLELISM: int(4),

    AGGREGATION_THRESHOLD: usdSetting('10.00'),
    AGGREGATION_MAX_WAIT: duration('15m'),
    /**
     * How long a pooled order may wait in its worker for others to share its signal to the pool
     * (an order that fills the pool goes at once; 0: only orders ready at the same moment share one).
     */
    POOL_FEED_LINGER: duration('200ms').refine((ms) => ms <= 5_000, 'must be at most 5s'),
    /**
     * How long the debit's activity watches its pooled order for the batch that settles it before
     * the order's workflow waits for the pool's signal instead (0: always the signal). Its workflow
     * task stays open meanwhile, so it is kept well under the task's 10 s timeout.
     */
    POOL_SETTLE_WAIT: duration('1s').refine((ms) => ms <= 5_000, 'must be at most 5s'),
    /** Largest single deposit, withdrawal or order total accepted by the API. */
    MAX_AMOUNT: usdSetting('1000000.00'),

    /** How often an order event stream sends a comment line, so that proxies keep it open. */
    SSE_HEARTBEAT_INTERVAL: duration('15s').refine((ms) => ms >= 100, 'must be at least 100ms'),
    /** Order event streams one user may have open at once on one API process. */
    SSE_MAX_STREAMS_PER_USER: int(5).refine((n) => n >= 1, 'must be at least 1'),
    /** How long order events are kept for replay; a reconnecting stream is promised at least a day. */
    ORDER_EVENTS_RETENTION: duration('24h').refine((ms) => ms >= 24 * 3_600_000, 'must be at least 24h'),

    TRUST_PROXY: flag(false),
    /** The worker's /metrics (ours plus the Temporal SDK's); 0 turns it off. */
    WORKER_METRICS_PORT: int(9464),
    /** Where the Temporal SDK exports its own metrics, read by the worker's /metrics. */
    WORKER_SDK_METRICS_PORT: int(9465),
    /** How often the worker runs the reconcile check and exports its result (reconcile_* metrics). */
    RECONCILE_INTERVAL: duration('5m').refine((ms) => ms >= 1_000, 'must be at least 1s'),

    /**
     * OTLP/HTTP collector of traces, e.g. http://jaeger:4318; tracing is off (nothing loaded) while
     * neither endpoint is set. The SDK reads the other OTEL_* settings (headers, sampler, batching).
     */
    OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
    /** The traces endpoint itself (…/v1/traces), when it differs from OTEL_EXPORTER_OTLP_ENDPOINT's. */
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().url().optional(),
    /** Defaults to crypto-purchase-api or crypto-purchase-worker, per process. */
    OTEL_SERVICE_NAME: z.string().optional(),

    RATE_LIMIT_ENABLED: flag(true),
    /** Key prefix of the counters in Redis. */
    RATE_LIMIT_NAMESPACE: z.string().default('crypto-purchase-rl:'),
    /** Sign-in attempts per account and client IP (password or one-time code) before a lock. */
    RATE_LIMIT_LOGIN_FAILURES: limit('5/15m'),
    /** Each lock lasts twice as long as the one before, up to this. */
    RATE_LIMIT_LOGIN_MAX_LOCK: duration('24h'),
    /** Requests per IP to the auth routes (login, register, refresh, logout). */
    RATE_LIMIT_AUTH_IP: limit('100/1m'),
    RATE_LIMIT_REGISTER_IP: limit('30/1h'),
    RATE_LIMIT_ORDERS_USER: limit('60/1m'),
    RATE_LIMIT_QUOTES_USER: limit('60/1m'),
    /** Every authenticated request, per user. */
    RATE_LIMIT_USER: limit('1000/1h'),

    FRAUD_ENABLED: flag(true),
    /** Hold a user's order once they placed this many within the window. */
    FRAUD_VELOCITY: limit('20/1m'),
    FRAUD_BALANCE_PERCENT: int(90),
    FRAUD_BALANCE_MIN_TOTAL: usdSetting('1000.00'),
    FRAUD_HISTORY_MULTIPLIER: int(10),
    FRAUD_HISTORY_MIN_ORDERS: int(3),
    FRAUD_HISTORY_MIN_TOTAL: usdSetting('100.00'),
    FRAUD_NEW_ACCOUNT_AGE: duration('24h'),
    FRAUD_NEW_ACCOUNT_HOLD_TOTAL: usdSetting('500.00'),
    FRAUD_NEW_ACCOUNT_REJECT_TOTAL: usdSetting('5000.00'),
    FRAUD_BURST_WINDOW: duration('10m'),
    FRAUD_BURST_PERCENT: int(90),
    FRAUD_BURST_MIN_TOTAL: usdSetting('200.00'),
    /** A held order nobody reviewed within this time is rejected and refunded. */
    FRAUD_REVIEW_TIMEOUT: duration('24h'),
  })
  .superRefine((env, ctx) => {
    // Weaker password hashes are refused everywhere, development included.
    const cost = passwordHashCost(env);
    for (const [name, key] of HASH_COST_VARIABLES) {
      if (cost[key] < MIN_PASSWORD_HASH_COST[key]) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `must be at least ${MIN_PASSWORD_HASH_COST[key]} (OWASP's minimum for argon2id)`,
        });
      }
    }
    // Guessable or published credentials are only tolerable on a developer's machine; `test` is held
    // to the same rules, so the tests run the configuration production runs.
    if (env.APP_ENV === 'development') return;
    if (env.JWT_SECRET === DEV_JWT_SECRET || env.JWT_SECRET.length < MIN_JWT_SECRET_LENGTH) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_SECRET'],
        message: `must be set to a random value of at least ${MIN_JWT_SECRET_LENGTH} characters outside development`,
      });
    }
    if (env.ADMIN_PASSWORD === DEV_ADMIN_PASSWORD) {
      ctx.addIssue({
        code: 'custom',
        path: ['ADMIN_PASSWORD'],
        message: 'must be set outside development (the default is published)',
      });
    } else {
      const problem = passwordProblem(env.ADMIN_PASSWORD, env.ADMIN_USERNAME);
      if (problem) ctx.addIssue({ code: 'custom', path: ['ADMIN_PASSWORD'], message: problem });
    }
  });

export type Env = z.infer<typeof envSchema>;

const HASH_COST_VARIABLES = [
  ['PASSWORD_HASH_MEMORY_KIB', 'memoryCost'],
  ['PASSWORD_HASH_TIME_COST', 'timeCost'],
  ['PASSWORD_HASH_PARALLELISM', 'parallelism'],
] as const;

export function passwordHashCost(
  env: Pick<Env, 'PASSWORD_HASH_MEMORY_KIB' | 'PASSWORD_HASH_TIME_COST' | 'PASSWORD_HASH_PARALLELISM'>,
): PasswordHashCost {
  return {
    memoryCost: env.PASSWORD_HASH_MEMORY_KIB,
    timeCost: env.PASSWORD_HASH_TIME_COST,
    parallelism: env.PASSWORD_HASH_PARALLELISM,
  };
}

export function fraudConfig(env: Env): FraudConfig {
  return {
    enabled: env.FRAUD_ENABLED,
    velocity: env.FRAUD_VELOCITY,
    balance: { percent: env.FRAUD_BALANCE_PERCENT, minTotal: env.FRAUD_BALANCE_MIN_TOTAL },
    history: {
      multiplier: env.FRAUD_HISTORY_MULTIPLIER,
      minOrders: env.FRAUD_HISTORY_MIN_ORDERS,
      minTotal: env.FRAUD_HISTORY_MIN_TOTAL,
    },
    newAccount: {
      ageMs: env.FRAUD_NEW_ACCOUNT_AGE,
      holdTotal: env.FRAUD_NEW_ACCOUNT_HOLD_TOTAL,
      rejectTotal: env.FRAUD_NEW_ACCOUNT_REJECT_TOTAL,
    },
    burst: {
      windowMs: env.FRAUD_BURST_WINDOW,
      percent: env.FRAUD_BURST_PERCENT,
      minTotal: env.FRAUD_BURST_MIN_TOTAL,
    },
  };
}

/** The API documentation pages are served when DOCS_ENABLED says so, by default in development only. */
export function docsEnabled(env: Env): boolean {
  return env.DOCS_ENABLED ?? env.APP_ENV === 'development';
}

/** Validates the environment once; start-up fails fast with every problem listed. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  // An empty value in .env means "not set", so defaults and optionals apply.
  const present = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = envSchema.safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
