import { z } from 'zod';
import { parseUsd, type Cents } from '../../domain/money.js';
import { usdSetting } from '../../config/settings.js';

const rate = (fallback: number) => z.coerce.number().min(0).max(1).default(fallback);
const int = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);

/** "ABAN=4.00,BTC=50000.00" → Map { ABAN → 400n, BTC → 5000000n }. */
const priceList = z.string().transform((text, ctx) => {
  const prices = new Map<string, Cents>();
  for (const entry of text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const match = /^([A-Za-z0-9]{1,10})=(.+)$/.exec(entry);
    const price = match ? parseUsd(match[2]) : undefined;
    if (!match || !price?.ok) {
      ctx.addIssue({ code: 'custom', message: `"${entry}" is not CRYPTO=PRICE such as BTC=50000.00` });
      return z.NEVER;
    }
    prices.set(match[1]!, price.value);
  }
  if (prices.size === 0) {
    ctx.addIssue({ code: 'custom', message: 'lists no prices' });
    return z.NEVER;
  }
  return prices;
});

export const simulatorEnvSchema = z.object({
  EXCHANGE_SIM_HOST: z.string().default('127.0.0.1'),
  EXCHANGE_SIM_PORT: int(8100),
  EXCHANGE_SIM_MIN_NOTIONAL: usdSetting('10.00'),
  EXCHANGE_SIM_LATENCY_MS: int(0),
  EXCHANGE_SIM_FAILURE_RATE: rate(0),
  EXCHANGE_SIM_DROP_RATE: rate(0),
  EXCHANGE_SIM_PRICES: priceList.prefault('ABAN=4.00,BTC=50000.00,ETH=3000.00'),
  EXCHANGE_SIM_PRICE_DRIFT: rate(0),
  EXCHANGE_SIM_PRICE_TICK_MS: z.coerce.number().int().positive().default(1000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Faults {
  /** Fraction of buys answered 503 before executing. */
  failureRate: number;
  /** Fraction of buys executed and then left unanswered (connection destroyed). */
  dropRate: number;
  latencyMs: number;
}

export interface SimulatorConfig extends Faults {
  host: string;
  port: number;
  minNotional: Cents;
  prices: Map<string, Cents>;
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
  return {
    host: env.EXCHANGE_SIM_HOST,
    port: env.EXCHANGE_SIM_PORT,
    minNotional: env.EXCHANGE_SIM_MIN_NOTIONAL,
    latencyMs: env.EXCHANGE_SIM_LATENCY_MS,
    failureRate: env.EXCHANGE_SIM_FAILURE_RATE,
    dropRate: env.EXCHANGE_SIM_DROP_RATE,
    prices: env.EXCHANGE_SIM_PRICES,
    priceDrift: env.EXCHANGE_SIM_PRICE_DRIFT,
    priceTickMs: env.EXCHANGE_SIM_PRICE_TICK_MS,
    logLevel: env.LOG_LEVEL,
  };
}
