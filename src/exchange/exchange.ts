import type { FillText } from '../domain/house.js';

/**
 * What the rest of the system sees of the exchange. Amounts cross this boundary as decimal strings
 * and are read with the functions in domain/money: USD amounts the service chose (a notional, a
 * price it quotes, a minimum) have 2 places; what the exchange reports about a fill (quote spent,
 * quantity, average price, commission) has up to 8, as exchanges keep it.
 */
export interface MarketQuote {
  crypto: string;
  /** The market this crypto is bought on, e.g. `BTC/USDT`. */
  symbol: string;
  /** Last price, USD with 2 places (rounded half up). */
  price: string;
  /** The market's minimum order value, USD with 2 places (rounded up); `0.00` when it has none. */
  minNotional: string;
}

/** The time before which the previous attempt of a purchase signed its request (ms since epoch). */
export interface EarlierAttempt {
  signedBefore: number;
}

export interface BuyRequest {
  /** Ours, never the exchange's: the order id (`order-<id>`) or the batch id. */
  clientOrderId: string;
  crypto: string;
  /** The quote amount to spend, USD with 2 places. */
  notional: string;
  /**
   * Set on every retry. The exchange is first asked for `clientOrderId`; a new order is placed only
   * once it is known that the earlier request can no longer execute.
   */
  retryOf?: EarlierAttempt;
}

/** A fill as the exchange reports it: the domain reads it (src/domain/house.ts). */
export type Fill = FillText;

export interface Exchange {
  /**
   * Last price and minimum notional of each crypto's market (the cryptos the service lists, read by
   * the caller from Postgres). A crypto the exchange has no market for is left out of the answer.
   */
  markets(cryptos: string[]): Promise<MarketQuote[]>;
  buy(req: BuyRequest): Promise<Fill>;
  /**
   * The fill the exchange recorded for a client order id, or undefined when it never bought it.
   * "Never" is conclusive: the lookup waits until a request signed before `signedBefore` could no
   * longer execute.
   */
  findFill(clientOrderId: string, crypto: string, earlier: EarlierAttempt): Promise<Fill | undefined>;
}

/** The exchange refused the request; retrying it unchanged will be refused again. */
export class ExchangeRejectedError extends Error {
  // `name` is what Temporal matches against nonRetryableErrorTypes, so it is set explicitly.
  override readonly name = 'ExchangeRejectedError';

  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The exchange could not be reached or did not answer properly. A buy may or may not have executed,
 * so retry with the same clientOrderId.
 */
export class ExchangeUnavailableError extends Error {
  override readonly name = 'ExchangeUnavailableError';
}
