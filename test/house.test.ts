import fc from 'fast-check';
import {
  cashIdentity,
  centsToUnits,
  cryptoIdentity,
  feeIn,
  houseEntries,
  parseFill,
  valueAt,
  type FillText,
  type HouseEntryDraft,
  type ParsedFill,
} from '../src/domain/house.js';
import { DataError } from '../src/domain/errors.js';
import { formatQuantity } from '../src/domain/money.js';

const fillText = (patch: Partial<FillText> = {}): FillText => ({
  exchangeOrderId: '12345',
  clientOrderId: 'order-7',
  crypto: 'BTC',
  symbol: 'BTC/USDT',
  quoteSpent: '11.99950000',
  quantity: '0.00024000',
  averagePrice: '49997.91666666',
  commission: '0.00000024',
  commissionAsset: 'BTC',
  ...patch,
});
const expected = { clientOrderId: 'order-7', crypto: 'BTC' };

/** Entries as readable strings: kind, asset, amount, quantity. */
const readable = (entries: HouseEntryDraft[]) =>
  entries.map((e) => [
    e.kind,
    e.asset,
    formatQuantity(e.amount),
    e.quantity === null ? null : formatQuantity(e.quantity),
  ]);

describe('parseFill', () => {
  it('reads the exchange decimals into 1e-8 units and the quote asset from the symbol', () => {
    const fill = parseFill(fillText(), expected);
    expect(fill).toMatchObject({
      baseAsset: 'BTC',
      quoteAsset: 'USDT',
      quoteSpent: 1_199_950_000n,
      quantity: 24_000n,
      averagePrice: 4_999_791_666_666n,
      commission: 24n,
    });
  });

  it('accepts a zero commission', () => {
    expect(parseFill(fillText({ commission: '0' }), expected).commission).toBe(0n);
    expect(parseFill(fillText({ commission: '0.00000000' }), expected).commission).toBe(0n);
  });

  it.each([
    ['quantity', { quantity: '1e-4' }],
    ['quantity', { quantity: '0' }],
    ['quoteSpent', { quoteSpent: '-12.00' }],
    ['quoteSpent', { quoteSpent: '12.000000001' }],
    ['averagePrice', { averagePrice: 'NaN' }],
    ['commission', { commission: '' }],
    ['symbol', { symbol: 'BTCUSDT' }],
    ['clientOrderId', { clientOrderId: 'order-8' }],
    ['crypto', { crypto: 'ETH' }],
    ['commissionAsset', { commissionAsset: '' }],
    ['exchangeOrderId', { exchangeOrderId: '' }],
  ])('refuses a malformed %s', (field, patch) => {
    expect(() => parseFill(fillText(patch as Partial<FillText>), expected)).toThrow(DataError);
    expect(() => parseFill(fillText(patch as Partial<FillText>), expected)).toThrow(new RegExp(field));
  });

  it('refuses a fill that is not an object of strings', () => {
    expect(() => parseFill({ quantity: 1 } as unknown as FillText, expected)).toThrow(DataError);
  });
});

describe('valueAt', () => {
  it('rounds half away from zero to 8 places', () => {
    // 0.00000001 × 0.5 = 0.000000005 → 0.00000001; and the same below zero.
    expect(valueAt(1n, 50_000_000n)).toBe(1n);
    expect(valueAt(-1n, 50_000_000n)).toBe(-1n);
    expect(valueAt(1n, 49_999_999n)).toBe(0n);
    expect(valueAt(24n, 4_999_791_666_666n)).toBe(1_199_950n);
  });
});

const parsed = (patch: Partial<FillText> = {}, clientOrderId = 'order-7'): ParsedFill =>
  parseFill(fillText({ clientOrderId, ...patch }), { clientOrderId, crypto: 'BTC' });

describe('houseEntries', () => {
  it('an order bought alone: rounding dust, commission in the crypto, surplus', () => {
    // $12.00 asked, 11.9995 spent; 0.00024 filled, the user was quoted 0.00023999.
    const fill = parsed();
    const entries = houseEntries({
      fill,
      ordersTotal: 1200n,
      houseTopUp: 0n,
      quoteAsked: 1200n,
      ordersAmount: 23_999n,
    });
    expect(readable(entries)).toEqual([
      ['unspent_quote', 'USDT', '0.00050000', null],
      ['fee', 'BTC', '-0.01199950', '-0.00000024'],
      ['crypto_difference', 'BTC', '0.00049998', '0.00000001'],
    ]);
  });

  it('a batch topped up by the house, price moved against it: shortfall', () => {
    const fill = parsed(
      { quoteSpent: '15.00000000', quantity: '0.00029000', averagePrice: '51724.13793103', commission: '0' },
      'BTC-1-abc',
    );
    const entries = houseEntries({
      fill,
      ordersTotal: 1200n,
      houseTopUp: 300n,
      quoteAsked: 1500n,
      ordersAmount: 30_000n,
    });
    expect(readable(entries)).toEqual([
      ['top_up', 'USDT', '-3.00000000', null],
      ['crypto_difference', 'BTC', '-0.51724138', '-0.00001000'],
    ]);
  });

  it('commission in the quote asset is cash; in another asset it has a quantity and no value', () => {
    const quote = houseEntries({
      fill: parsed({ commission: '0.01200000', commissionAsset: 'USDT', quantity: '0.00023999' }),
      ordersTotal: 1200n,
      houseTopUp: 0n,
      quoteAsked: 1200n,
      ordersAmount: 23_999n,
    });
    expect(readable(quote)).toEqual([
      ['unspent_quote', 'USDT', '0.00050000', null],
      ['fee', 'USDT', '-0.01200000', null],
    ]);
    const bnb = houseEntries({
      fill: parsed({ commission: '0.00002000', commissionAsset: 'BNB', quantity: '0.00023999' }),
      ordersTotal: 1200n,
      houseTopUp: 0n,
      quoteAsked: 1200n,
      ordersAmount: 23_999n,
    });
    expect(readable(bnb)).toEqual([
      ['unspent_quote', 'USDT', '0.00050000', null],
      ['fee', 'BNB', '0.00000000', '-0.00002000'],
    ]);
  });

  it('an exact fill leaves the house nothing', () => {
    const fill = parsed({ quoteSpent: '12.00', quantity: '0.00024', commission: '0' });
    expect(
      houseEntries({ fill, ordersTotal: 1200n, houseTopUp: 0n, quoteAsked: 1200n, ordersAmount: 24_000n }),
    ).toEqual([]);
  });

  it('keeps both identities exactly, whatever the fill', () => {
    const unitsOf = (max: bigint) => fc.bigInt({ min: 1n, max });
    fc.assert(
      fc.property(
        fc.record({
          ordersTotal: unitsOf(1_000_000n),
          houseTopUp: fc.bigInt({ min: 0n, max: 10_000n }),
          spentShare: fc.bigInt({ min: 1n, max: 1000n }),
          quantity: unitsOf(10n ** 12n),
          ordersAmount: unitsOf(10n ** 12n),
          commission: fc.bigInt({ min: 0n, max: 10n ** 8n }),
          averagePrice: unitsOf(10n ** 15n),
          asset: fc.constantFrom('BTC', 'USDT', 'BNB'),
        }),
        (r) => {
          const quoteAsked = r.ordersTotal + r.houseTopUp;
          const quoteSpent = (centsToUnits(quoteAsked) * r.spentShare) / 1000n || 1n;
          const fill: ParsedFill = {
            ...parsed(),
            quoteSpent,
            quantity: r.quantity,
            averagePrice: r.averagePrice,
            commission: r.commission,
            commissionAsset: r.asset,
          };
          const entries = houseEntries({
            fill,
            ordersTotal: r.ordersTotal,
            houseTopUp: r.houseTopUp,
            quoteAsked,
            ordersAmount: r.ordersAmount,
          });
          const where = feeIn(fill);
          const cash = cashIdentity({
            ordersTotal: r.ordersTotal,
            quoteSpent,
            cashAmounts: entries.filter((e) => e.quantity === null).reduce((a, e) => a + e.amount, 0n),
            commission: r.commission,
            feeIn: where,
          });
          expect(cash.actual).toBe(cash.expected);
          const crypto = cryptoIdentity({
            quantity: r.quantity,
            commission: r.commission,
            feeIn: where,
            ordersAmount: r.ordersAmount,
            cryptoQuantities: entries
              .filter((e) => e.asset === 'BTC' && e.quantity !== null)
              .reduce((a, e) => a + e.quantity!, 0n),
          });
          expect(crypto.actual).toBe(crypto.expected);
          // At most one entry of each kind.
          expect(new Set(entries.map((e) => e.kind)).size).toBe(entries.length);
        },
      ),
    );
  });
});
