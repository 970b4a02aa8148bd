import fc from 'fast-check';
import {
  formatQuantity,
  formatUsd,
  parseQuantity,
  parseUsd,
  quantityFor,
  readUsd,
  totalPrice,
} from '../src/domain/money.js';

const MAX = 100_000_000n; // 1,000,000.00 in cents

describe('USD amounts', () => {
  it('round-trips every valid amount exactly, as a string and as a JSON number', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: MAX }), (cents) => {
        const text = formatUsd(cents);
        expect(parseUsd(text, { max: MAX })).toEqual({ ok: true, value: cents });
        expect(readUsd(text)).toBe(cents);
        // A JSON number such as 12.5 reaches the parser as its source text.
        const short = text.replace(/\.?0+$/, '');
        expect(parseUsd(short, { max: MAX })).toEqual({ ok: true, value: cents });
      }),
    );
  });

  it('formats with exactly two decimals', () => {
    expect(formatUsd(1200n)).toBe('12.00');
    expect(formatUsd(5n)).toBe('0.05');
    expect(formatUsd(0n)).toBe('0.00');
    expect(formatUsd(-150n)).toBe('-1.50');
  });

  it.each([
    ['-1', 'must not be negative'],
    ['-0.01', 'must not be negative'],
    ['0', 'must be greater than zero'],
    ['0.00', 'must be greater than zero'],
    ['1e3', 'plain decimal'],
    ['1E3', 'plain decimal'],
    ['NaN', 'plain decimal'],
    ['Infinity', 'plain decimal'],
    [' 5', 'plain decimal'],
    ['5 ', 'plain decimal'],
    ['+5', 'plain decimal'],
    ['0x10', 'plain decimal'],
    ['.5', 'plain decimal'],
    ['5.', 'plain decimal'],
    ['', 'plain decimal'],
    ['1.005', 'at most 2 decimal places'],
    ['1000000.01', 'must not exceed 1000000.00'],
  ])('refuses %j', (input, message) => {
    const parsed = parseUsd(input, { max: MAX });
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.message).toContain(message);
  });

  it.each([[NaN], [Infinity], [-Infinity], [true], [null], [{}], [[1]]])(
    'refuses the non-amount %p',
    (input) => {
      expect(parseUsd(input).ok).toBe(false);
    },
  );

  it('refuses every string with more than two decimals', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: MAX }), fc.integer({ min: 1, max: 9 }), (cents, digit) => {
        expect(parseUsd(`${formatUsd(cents)}${digit}`).ok).toBe(false);
      }),
    );
  });

  it('refuses every negative amount', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: MAX }), (cents) => {
        expect(parseUsd(`-${formatUsd(cents)}`).ok).toBe(false);
      }),
    );
  });
});

describe('crypto quantities', () => {
  it('round-trips every valid quantity with eight decimals', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 16n }), (units) => {
        expect(parseQuantity(formatQuantity(units))).toEqual({ ok: true, value: units });
      }),
    );
  });

  it('refuses a ninth decimal', () => {
    expect(parseQuantity('0.000000001').ok).toBe(false);
    expect(formatQuantity(10_000n)).toBe('0.00010000');
  });
});

describe('total price', () => {
  it('is amount × price rounded half up to the cent', () => {
    expect(totalPrice(300_000_000n, 400n)).toBe(1200n); // 3 ABAN at 4.00
    expect(totalPrice(1n, 5_000_000n)).toBe(0n); // 0.00000001 BTC at 50000.00 = $0.0005 → $0.00
    expect(totalPrice(10_000n, 5_000_000n)).toBe(500n); // 0.0001 BTC → $5.00
  });

  it('rounds exactly at the half cent', () => {
    // 0.125 USD → 0.13, 0.124999... → 0.12
    expect(totalPrice(12_500_000n, 100n)).toBe(13n); // 0.125 × 1.00
    expect(totalPrice(12_499_999n, 100n)).toBe(12n);
  });

  it('matches exact rational arithmetic for random inputs', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc.bigInt({ min: 1n, max: 10n ** 9n }),
        (qty, price) => {
          const exact = qty * price; // in 1e-10 USD
          const cents = totalPrice(qty, price);
          // |exact - cents·1e8| ≤ 0.5e8, and ties go up
          const diff = exact - cents * 100_000_000n;
          expect(diff >= -50_000_000n && diff < 50_000_000n).toBe(true);
        },
      ),
    );
  });

  it('quantityFor rounds down so the buyer never gets more than paid for', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 9n }),
        fc.bigInt({ min: 1n, max: 10n ** 9n }),
        (notional, price) => {
          const qty = quantityFor(notional, price);
          expect(qty * price <= notional * 100_000_000n).toBe(true);
          expect((qty + 1n) * price > notional * 100_000_000n).toBe(true);
        },
      ),
    );
  });
});
