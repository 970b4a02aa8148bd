import fc from 'fast-check';
import { DomainError } from '../src/domain/errors.js';
import { priceOrder } from '../src/domain/pricing.js';

const MAX_TOTAL = 100_000_000n; // 1,000,000.00
const UNITS_PER_COIN = 100_000_000n;

/** The rules stated independently, in decimal strings' terms: x / y rounded down, and half up. */
const floorDiv = (x: bigint, y: bigint) => x / y;
const halfUp = (x: bigint, y: bigint) => ((x % y) * 2n >= y ? x / y + 1n : x / y);

describe('pricing a USD total', () => {
  it('buys total ÷ price rounded down, and the debit never exceeds the total (every price)', () => {
    fc.assert(
      fc.property(
        // From one cent to ten million dollars a coin: every scale the debit could meet.
        fc.bigInt({ min: 1n, max: 1_000_000_000n }),
        fc.bigInt({ min: 1n, max: MAX_TOTAL }),
        (price, total) => {
          let priced;
          try {
            priced = priceOrder({ total }, price, MAX_TOTAL);
          } catch (error) {
            // Only a total too small to buy one unit (or to cost a cent) is refused.
            expect(error).toBeInstanceOf(DomainError);
            expect((error as DomainError).code).toBe('total_too_small');
            expect(halfUp(floorDiv(total * UNITS_PER_COIN, price) * price, UNITS_PER_COIN)).toBeLessThan(1n);
            return;
          }
          expect(priced.amount).toBe(floorDiv(total * UNITS_PER_COIN, price));
          expect(priced.total).toBe(halfUp(priced.amount * price, UNITS_PER_COIN));
          expect(priced.total).toBeLessThanOrEqual(total);
          // Maximal: one more unit of 10⁻⁸ would cost more than the total asked.
          expect((priced.amount + 1n) * price).toBeGreaterThan(total * UNITS_PER_COIN);
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it.each([
    // [price, total, amount, total_price]
    ['4.00', '25.00', '6.25000000', '25.00'],
    ['50000.00', '25.00', '0.00050000', '25.00'],
    ['3000.00', '10.00', '0.00333333', '10.00'],
    ['987654.32', '25.00', '0.00002531', '25.00'],
    ['9999999.99', '10.00', '0.00000100', '10.00'],
    // Above $500,000 a coin, 10⁻⁸ costs more than half a cent: the debit can stay under the total.
    ['7777777.77', '10.00', '0.00000128', '9.96'],
  ])('at %s, $%s buys %s for %s', (price, total, amount, totalPrice) => {
    const cents = (s: string) => BigInt(s.replace('.', ''));
    const priced = priceOrder({ total: cents(total) }, cents(price), MAX_TOTAL);
    expect(priced.amount).toBe(BigInt(amount.replace('.', '')));
    expect(priced.total).toBe(cents(totalPrice));
  });

  it('refuses a total that buys nothing, and one over the maximum', () => {
    expect(() => priceOrder({ total: 1n }, 200_000_000_000n, MAX_TOTAL)).toThrow(/buys less than/);
    expect(() => priceOrder({ total: MAX_TOTAL + 1n }, 400n, MAX_TOTAL)).toThrow(/must not exceed/);
  });

  it('prices a quantity as round_half_up(amount × price, 2)', () => {
    expect(priceOrder({ amount: 300_000_000n }, 400n, MAX_TOTAL)).toEqual({
      amount: 300_000_000n,
      total: 1200n,
    });
    expect(() => priceOrder({ amount: 1n }, 5_000_000n, MAX_TOTAL)).toThrow(/below \$0\.01/);
  });
});
