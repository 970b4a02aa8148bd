/**
 * What the rest of the system sees of the exchange. Amounts cross this boundary as decimal strings
 * (USD with 2 places, quantity with 8) and are read with the functions in domain/money.
 */
export interface PriceQuote {
  crypto: string;
  price: string;
}

export interface BuyRequest {
  /** Idempotency key: the exchange executes each id at most once and replays the fill on repeat. */
  clientOrderId: string;
  crypto: string;
  notional: string;
}

export interface Fill {
  exchangeOrderId: string;
  clientOrderId: string;
  crypto: string;
  notional: string;
  price: string;
  quantity: string;
}

export interface Exchange {
  prices(): Promise<PriceQuote[]>;
  buy(req: BuyRequest): Promise<Fill>;
  /** The fill the exchange recorded for a client order id, or undefined when it never bought it. */
  findFill(clientOrderId: string): Promise<Fill | undefined>;
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
