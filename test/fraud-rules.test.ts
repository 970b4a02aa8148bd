import { assess, type FraudConfig, type FraudFacts } from '../src/domain/fraud.js';

const config: FraudConfig = {
  enabled: true,
  velocity: { max: 5, windowMs: 60_000 },
  balance: { percent: 90, minTotal: 100_000n },
  history: { multiplier: 10, minOrders: 3, minTotal: 10_000n },
  newAccount: { ageMs: 86_400_000, holdTotal: 50_000n, rejectTotal: 500_000n },
  burst: { windowMs: 600_000, percent: 90, minTotal: 20_000n },
};

/** An established, quiet account placing a modest order: every rule allows it. */
const calm: FraudFacts = {
  total: 2_000n,
  balance: 1_000_000n,
  accountAgeMs: 30 * 86_400_000,
  recentOrders: 0,
  historyCount: 10,
  historyTotal: 20_000n,
  recentDeposits: 0n,
};

describe('fraud rules', () => {
  it('allows an ordinary order', () => {
    expect(assess(calm, config)).toEqual({ action: 'allow' });
  });

  it.each<[string, Partial<FraudFacts>, 'hold' | 'reject']>([
    ['velocity', { recentOrders: 5 }, 'hold'],
    ['balance', { total: 100_000n, balance: 110_000n, historyTotal: 2_000_000n }, 'hold'],
    ['history', { total: 20_000n, historyCount: 10, historyTotal: 20_000n }, 'hold'],
    ['new_account', { accountAgeMs: 1_000, total: 50_000n, historyTotal: 1_000_000n }, 'hold'],
    ['new_account', { accountAgeMs: 1_000, total: 500_000n, historyTotal: 10_000_000n }, 'reject'],
    ['deposit_burst', { recentDeposits: 21_000n, total: 20_000n, historyTotal: 1_000_000n }, 'hold'],
  ])('%s decides %s', (rule, facts, action) => {
    expect(assess({ ...calm, ...facts }, config)).toMatchObject({ action, rule, reason: expect.any(String) });
  });

  it.each<[string, Partial<FraudFacts>]>([
    ['velocity just under the limit', { recentOrders: 4 }],
    ['a big share of a small balance', { total: 9_000n, balance: 9_500n }],
    ['few orders of history', { total: 20_000n, historyCount: 2, historyTotal: 200n }],
    ['a new account buying little', { accountAgeMs: 1_000, total: 49_999n, historyTotal: 1_000_000n }],
    ['a deposit spent only in part', { recentDeposits: 100_000n, total: 20_000n, historyTotal: 1_000_000n }],
  ])('allows %s', (_name, facts) => {
    expect(assess({ ...calm, ...facts }, config).action).toBe('allow');
  });

  it('the strictest decision wins', () => {
    const decision = assess({ ...calm, recentOrders: 10, accountAgeMs: 0, total: 600_000n }, config);
    expect(decision).toMatchObject({ action: 'reject', rule: 'new_account' });
  });

  it('can be switched off', () => {
    expect(assess({ ...calm, recentOrders: 100 }, { ...config, enabled: false })).toEqual({
      action: 'allow',
    });
  });
});
