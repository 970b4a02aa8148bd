/**
 * Checks the configured exchange before the worker buys from it, and buys nothing: loads the spot
 * markets and the account balance with the configured keys and prints, per crypto, the market, its
 * minimum order value, its lot step and last price, then the quote balance. Exits 1 on any problem
 * (bad keys, a crypto without a market, an unreachable exchange), each on an `error:` line.
 *
 * The cryptos: `--cryptos ABAN,BTC`, else the ones listed in Postgres (DATABASE_URL), else the keys of
 * EXCHANGE_MARKETS.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ccxt from 'ccxt';
import { loadEnv, type Env } from '../src/config/env.js';
import { exchangeOptions } from '../src/config/exchange.js';
import { createCcxtExchange, type CcxtExchange } from '../src/exchange/ccxt-exchange.js';
import { openDatabase } from '../src/runtime/resources.js';
import { listActiveCryptos } from '../src/services/cryptos.js';

const root = resolve(import.meta.dirname, '..');
let failed = false;
const fail = (message: string) => {
  failed = true;
  console.log(`error: ${message}`);
};
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
const decimal = (value: number | undefined) =>
  value === undefined ? 'none' : (ccxt.functions.numberToString(value) ?? 'none');

async function cryptosToCheck(
  env: Env,
  flag: string | undefined,
): Promise<{ cryptos: string[]; from: string }> {
  if (flag)
    return {
      cryptos: flag
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
      from: '--cryptos',
    };
  if (env.DATABASE_URL) {
    try {
      const orm = await openDatabase(env);
      try {
        const cryptos = (await listActiveCryptos(orm.em.fork())).map((c) => c.name);
        return { cryptos, from: 'Postgres (DATABASE_URL)' };
      } finally {
        await orm.close();
      }
    } catch (error) {
      console.log(`Postgres not reachable (${errorText(error)}); using EXCHANGE_MARKETS`);
    }
  }
  return { cryptos: Object.keys(env.EXCHANGE_MARKETS), from: 'EXCHANGE_MARKETS' };
}

/** The lot step as a decimal, whatever way the exchange's ccxt class counts precision. */
function stepOf(exchange: CcxtExchange, amount: number | undefined): string {
  if (amount === undefined) return 'none';
  if (exchange.client.precisionMode === ccxt.functions.TICK_SIZE) return decimal(amount);
  if (exchange.client.precisionMode === ccxt.functions.DECIMAL_PLACES)
    return amount > 0 ? `0.${'1'.padStart(amount, '0')}` : '1';
  return `${amount} significant digits`;
}

async function main(): Promise<void> {
  const envFile = join(root, '.env');
  if (existsSync(envFile)) process.loadEnvFile(envFile); // variables already set win
  const { values } = parseArgs({ options: { cryptos: { type: 'string' } } });
  const env = loadEnv();
  const options = exchangeOptions(env);
  const exchange = createCcxtExchange({
    ...options,
    logger: { error: () => undefined, warn: (message) => console.log(`warning: ${message}`) },
  });
  const where = options.url ?? (options.sandbox ? 'its sandbox' : 'its live API');
  console.log(
    `exchange: ${options.exchangeId} at ${where}, quote ${options.quote}, recvWindow ${options.recvWindowMs} ms`,
  );

  const { cryptos, from } = await cryptosToCheck(env, values.cryptos);
  if (cryptos.length === 0) {
    fail('no cryptos to check: pass --cryptos ABAN,BTC, set DATABASE_URL, or set EXCHANGE_MARKETS');
    return;
  }
  console.log(`cryptos (from ${from}): ${cryptos.join(', ')}`);

  try {
    await exchange.ready();
  } catch (error) {
    fail(`cannot load the markets from ${where}: ${errorText(error)}`);
    return;
  }
  // ccxt's timeDifference is this host's clock minus the exchange's.
  const difference = Number(exchange.client.options.timeDifference ?? 0);
  const side = difference >= 0 ? 'ahead of' : 'behind';
  console.log(
    `markets loaded; this host's clock is ${Math.abs(difference)} ms ${side} the exchange's (requests correct for it)`,
  );

  let quotes: Awaited<ReturnType<CcxtExchange['markets']>> = [];
  try {
    quotes = await exchange.markets(cryptos);
  } catch (error) {
    fail(`cannot read prices: ${errorText(error)}`);
  }
  for (const crypto of cryptos) {
    const symbol = exchange.symbolFor(crypto);
    const market = exchange.client.markets?.[symbol];
    if (!market) {
      fail(
        `${crypto}: ${options.exchangeId} has no spot market ${symbol} (check EXCHANGE_MARKETS and EXCHANGE_QUOTE)`,
      );
      continue;
    }
    const quote = quotes.find((q) => q.crypto === crypto);
    console.log(
      [
        `${crypto}: market ${symbol}${market.active === false ? ' (NOT TRADING)' : ''}`,
        `min notional ${quote?.minNotional ?? decimal(market.limits?.cost?.min)}`,
        `step ${stepOf(exchange, market.precision?.amount)}`,
        `last price ${quote?.price ?? 'none'}`,
      ].join(', '),
    );
    if (market.active === false) fail(`${crypto}: market ${symbol} is not trading`);
  }

  try {
    const balance = await exchange.client.fetchBalance();
    const held = balance[options.quote] as { free?: number; total?: number } | undefined;
    console.log(
      `balance: ${decimal(held?.free ?? 0)} ${options.quote} free, ${decimal(held?.total ?? 0)} in total`,
    );
  } catch (error) {
    fail(
      `cannot read the account balance (check EXCHANGE_API_KEY, EXCHANGE_SECRET, the key's permissions and EXCHANGE_SANDBOX): ${errorText(error)}`,
    );
  }
}

try {
  await main();
} catch (error) {
  fail(errorText(error));
}
console.log(failed ? 'exchange check FAILED' : 'exchange check passed (nothing was bought)');
process.exitCode = failed ? 1 : 0;
