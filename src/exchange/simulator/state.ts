import { randomUUID } from 'node:crypto';
import { formatQuantity, formatUsd, quantityFor, type Cents } from '../../domain/money.js';

/** A fill as the simulator sends it. */
export interface FillRecord {
  exchange_order_id: string;
  client_order_id: string;
  crypto: string;
  notional: string;
  price: string;
  quantity: string;
}

export type BuyOutcome =
  | { kind: 'filled'; fill: FillRecord; created: boolean }
  | { kind: 'unknown_crypto' }
  | { kind: 'min_notional' }
  | { kind: 'conflict'; fill: FillRecord };

/** The simulator's in-memory book: current prices and every fill, keyed by client order id. */
export class OrderBook {
  private readonly prices: Map<string, Cents>;
  private readonly fills = new Map<string, FillRecord>();

  constructor(
    prices: Map<string, Cents>,
    private readonly minNotional: Cents,
  ) {
    this.prices = new Map(prices);
  }

  quotes(): { crypto: string; price: string }[] {
    return [...this.prices].map(([crypto, price]) => ({ crypto, price: formatUsd(price) }));
  }

  fill(clientOrderId: string): FillRecord | undefined {
    return this.fills.get(clientOrderId);
  }

  allFills(): FillRecord[] {
    return [...this.fills.values()];
  }

  /** Executes a buy once per client order id; a repeat with the same terms gets the original fill. */
  buy(clientOrderId: string, crypto: string, notional: Cents): BuyOutcome {
    const previous = this.fills.get(clientOrderId);
    if (previous) {
      const same = previous.crypto === crypto && previous.notional === formatUsd(notional);
      return same ? { kind: 'filled', fill: previous, created: false } : { kind: 'conflict', fill: previous };
    }
    const price = this.prices.get(crypto);
    if (price === undefined) return { kind: 'unknown_crypto' };
    if (notional < this.minNotional) return { kind: 'min_notional' };
    const fill: FillRecord = {
      exchange_order_id: randomUUID(),
      client_order_id: clientOrderId,
      crypto,
      notional: formatUsd(notional),
      price: formatUsd(price),
      quantity: formatQuantity(quantityFor(notional, price)),
    };
    this.fills.set(clientOrderId, fill);
    return { kind: 'filled', fill, created: true };
  }

  /** Moves every price by a random fraction in [-maxFraction, +maxFraction], never below one cent. */
  drift(maxFraction: number, random: () => number): void {
    for (const [crypto, price] of this.prices) {
      // The fraction is a ratio, not money: it is turned into integer parts per million before touching cents.
      const ppm = BigInt(Math.round((random() * 2 - 1) * maxFraction * 1_000_000));
      const next = price + (price * ppm) / 1_000_000n;
      this.prices.set(crypto, next > 0n ? next : 1n);
    }
  }
}
