import type { CcxtExchangeOptions } from '../exchange/ccxt-exchange.js';
import type { Env } from './env.js';

/**
 * The simulator `make dev` runs, and its keys. They are published and simulator-only, so they are
 * used in development alone: anywhere else the exchange and its keys are configured explicitly.
 */
export const SIMULATOR = { url: 'http://127.0.0.1:8100', apiKey: 'sim-key', secret: 'sim-secret' } as const;

/**
 * The driver's settings from the environment. In development, with no key and no sandbox set, the
 * exchange is the local simulator (EXCHANGE_URL still moves it), and the simulator's keys stand in for
 * missing ones. Elsewhere nothing defaults to the simulator: missing keys stop the worker with a list
 * of what to set, and without EXCHANGE_URL the driver talks to the exchange's own API.
 */
export function exchangeOptions(env: Env): CcxtExchangeOptions {
  const development = env.APP_ENV === 'development';
  const simulator = development && !env.EXCHANGE_API_KEY && !env.EXCHANGE_SANDBOX;
  const apiKey = env.EXCHANGE_API_KEY ?? (simulator ? SIMULATOR.apiKey : undefined);
  const secret = env.EXCHANGE_SECRET ?? (simulator ? SIMULATOR.secret : undefined);
  const problems = [...(apiKey ? [] : ['EXCHANGE_API_KEY']), ...(secret ? [] : ['EXCHANGE_SECRET'])].map(
    (name) =>
      `  ${name}: must be set (the exchange account's API ${name === 'EXCHANGE_SECRET' ? 'secret' : 'key'})`,
  );
  if (problems.length > 0) throw new Error(`Invalid configuration:\n${problems.join('\n')}`);
  return {
    exchangeId: env.EXCHANGE_ID,
    apiKey: apiKey!,
    secret: secret!,
    sandbox: env.EXCHANGE_SANDBOX,
    url: env.EXCHANGE_URL ?? (simulator ? SIMULATOR.url : undefined),
    quote: env.EXCHANGE_QUOTE,
    markets: env.EXCHANGE_MARKETS,
    timeoutMs: env.EXCHANGE_TIMEOUT,
    recvWindowMs: env.EXCHANGE_RECV_WINDOW,
    clockMarginMs: env.EXCHANGE_CLOCK_MARGIN,
  };
}
