import { z } from 'zod';
import { parseUsd, readDecimal, type Cents, type Units } from '../../domain/money.js';
import { usdSetting } from '../../config/settings.js';

/** Binance carries every amount with 8 places; balances, quantities and quote amounts here are units of 1e-8. */
export const SIM_DECIMALS = 8;

/**
 * A step size keeps quantity × price exact at 8 places: prices have 2, so a step may have at most 6.
 * Cryptos without a step size of their own trade in steps of this.
 */
const FINEST_STEP = '0.000001';
const MAX_STEP_DECIMALS = 6;

const rate = (fallback: number) => z.coerce.number().min(0).max(1).default(fallback);
const int = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);

/** "ABAN=4.00,BTC=0.00001" → Map of CRYPTO → parsed value; `parse` returns undefined for a bad value. */
const cryptoList = <T>(example: string, parse: (text: string) => T | undefined, { required = false } = {}) =>
  z.string().transform((text, ctx) => {
    const values = new Map<string, T>();
    for (const entry of text
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean)) {
      const match = /^([A-Za-z0-9]{1,10})=(.+)$/.exec(entry);
      const value = match ? parse(match[2]!) : undefined;
      if (!match || value === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${entry}" is not CRYPTO=VALUE such as ${example}` });
        return z.NEVER;
      }
      values.set(match[1]!, value);
    }
    if (required && values.size === 0) {
      ctx.addIssue({ code: 'custom', message: 'lists no cryptos' });
      return z.NEVER;
    }
    return values;
  });

const priceOf = (text: string): Cents | undefined => {
  const price = parseUsd(text);
  return price.ok ? price.value : undefined;
};

/** A positive decimal with at most `places` places, as units of 1e-8; undefined when it is not one. */
function units(text: string, places: number, { allowZero = false } = {}): Units | undefined {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match || (match[2] ?? '').length > places) return undefined;
  const value = readDecimal(text, SIM_DECIMALS);
  return value > 0n || (allowZero && value === 0n) ? value : undefined;
}

const stepOf = (text: string) => units(text, MAX_STEP_DECIMALS);

const decimalSetting = (fallback: string, what: string, check: (value: Units) => boolean = () => true) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const value = units(text, SIM_DECIMALS, { allowZero: true });
      if (value === undefined || !check(value)) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not ${what}` });
        return z.NEVER;
      }
      return value;
    });

export const simulatorEnvSchema = z.object({
  EXCHANGE_SIM_HOST: z.string().default('127.0.0.1'),
  EXCHANGE_SIM_PORT: int(8100),
  // Simulator-only credentials: the defaults are published and open nothing but the local simulator.
  EXCHANGE_SIM_API_KEY: z.string().min(1).default('sim-key'),
  EXCHANGE_SIM_SECRET: z.string().min(1).default('sim-secret'),
  EXCHANGE_SIM_QUOTE: z
    .string()
    .regex(/^[A-Z0-9]{2,10}$/, 'must be an asset code such as USDT')
    .default('USDT'),
  EXCHANGE_SIM_QUOTE_BALANCE: decimalSetting('1000000.00', 'a decimal amount with at most 8 places'),
  EXCHANGE_SIM_MIN_NOTIONAL: usdSetting('10.00'),
  EXCHANGE_SIM_COMMISSION: decimalSetting(
    '0.001',
    'a fraction from 0 to 1 with at most 8 places',
    (v) => v <= 10n ** BigInt(SIM_DECIMALS),
  ),
  EXCHANGE_SIM_LATENCY_MS: int(0),
  EXCHANGE_SIM_FAILURE_RATE: rate(0),
  EXCHANGE_SIM_DROP_RATE: rate(0),
  EXCHANGE_SIM_PRICES: cryptoList('BTC=50000.00', priceOf, { required: true }).prefault(
    'ABAN=4.00,BTC=50000.00,ETH=3000.00',
  ),
  EXCHANGE_SIM_STEP_SIZES: cryptoList(`BTC=0.00001 (at most ${MAX_STEP_DECIMALS} places)`, stepOf).prefault(
    'ABAN=0.01,BTC=0.00001,ETH=0.0001',
  ),
  EXCHANGE_SIM_PRICE_DRIFT: rate(0),
  EXCHANGE_SIM_PRICE_TICK_MS: z.coerce.number().int().positive().default(1000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Faults {
  /** Fraction of orders answered 503 before executing. */
  failureRate: number;
  /** Fraction of orders executed and then left unanswered (connection destroyed). */
  dropRate: number;
  /** Delay of every order before it reaches the matching engine (recvWindow check and execution). */
  latencyMs: number;
}

export interface SimulatorConfig extends Faults {
  host: string;
  port: number;
  apiKey: string;
  secret: string;
  /** The asset every crypto is bought with (1 unit = 1 USD), e.g. USDT. */
  quoteAsset: string;
  /** Starting free balance of the quote asset, units of 1e-8. */
  quoteBalance: Units;
  minNotional: Cents;
  /** Commission rate per 1e8 (0.001 → 100000n), charged in the asset bought. */
  commissionRate: bigint;
  prices: Map<string, Cents>;
  /** Lot step per crypto, units of 1e-8. */
  stepSizes: Map<string, Units>;
  /** Largest fraction a price moves per tick; 0 keeps prices fixed. */
  priceDrift: number;
  priceTickMs: number;
  logLevel: z.infer<typeof simulatorEnvSchema>['LOG_LEVEL'];
}

export function loadSimulatorConfig(source: NodeJS.ProcessEnv = process.env): SimulatorConfig {
  // An empty value means "not set", as in the main service's configuration.
  const present = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = simulatorEnvSchema.safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`Invalid exchange simulator configuration:\n${lines.join('\n')}`);
  }
  const env = result.data;
  const finest = stepOf(FINEST_STEP)!;
  const stepSizes = new Map([...env.EXCHANGE_SIM_PRICES.keys()].map((c) => [c, finest]));
  for (const [crypto, step] of env.EXCHANGE_SIM_STEP_SIZES)
    if (stepSizes.has(crypto)) stepSizes.set(crypto, step);
  return {
    host: env.EXCHANGE_SIM_HOST,
    port: env.EXCHANGE_SIM_PORT,
    apiKey: env.EXCHANGE_SIM_API_KEY,
    secret: env.EXCHANGE_SIM_SECRET,
    quoteAsset: env.EXCHANGE_SIM_QUOTE,
    quoteBalance: env.EXCHANGE_SIM_QUOTE_BALANCE,
    minNotional: env.EXCHANGE_SIM_MIN_NOTIONAL,
    commissionRate: env.EXCHANGE_SIM_COMMISSION,
    latencyMs: env.EXCHANGE_SIM_LATENCY_MS,
    failureRate: env.EXCHANGE_SIM_FAILURE_RATE,
    dropRate: env.EXCHANGE_SIM_DROP_RATE,
    prices: env.EXCHANGE_SIM_PRICES,
    stepSizes,
    priceDrift: env.EXCHANGE_SIM_PRICE_DRIFT,
    priceTickMs: env.EXCHANGE_SIM_PRICE_TICK_MS,
    logLevel: env.LOG_LEVEL,
  };
}
