/**
 * Fraud rules: pure functions of facts gathered in the debit transaction. Each rule may ask to
 * hold the order for an admin's review or to reject it; the strictest answer wins.
 */
import type { Cents } from './money.js';

export type FraudAction = 'allow' | 'hold' | 'reject';

export interface FraudDecision {
  action: FraudAction;
  rule?: string;
  reason?: string;
}

export interface FraudFacts {
  total: Cents;
  /** Wallet balance before this order. */
  balance: Cents;
  accountAgeMs: number;
  /** The user's orders placed within the velocity window (not counting this one). */
  recentOrders: number;
  /** The user's earlier orders that were not refused: count and sum of totals. */
  historyCount: number;
  historyTotal: Cents;
  /** Deposits within the burst window. */
  recentDeposits: Cents;
}

export interface FraudConfig {
  enabled: boolean;
  velocity: { max: number; windowMs: number };
  /** Hold when an order of at least `minTotal` spends at least `percent` of the balance. */
  balance: { percent: number; minTotal: Cents };
  /** Hold when an order of at least `minTotal` is `multiplier` times the user's average (after `minOrders`). */
  history: { multiplier: number; minOrders: number; minTotal: Cents };
  /** Accounts younger than `ageMs`: hold from `holdTotal`, reject from `rejectTotal`. */
  newAccount: { ageMs: number; holdTotal: Cents; rejectTotal: Cents };
  /** Hold when an order of at least `minTotal` spends `percent` of money deposited within `windowMs`. */
  burst: { windowMs: number; percent: number; minTotal: Cents };
}

type Rule = (facts: FraudFacts, config: FraudConfig) => FraudDecision | undefined;

const usd = (cents: Cents) => `$${cents / 100n}.${String(cents % 100n).padStart(2, '0')}`;

export const RULES: Record<string, Rule> = {
  new_account: (f, c) => {
    if (f.accountAgeMs >= c.newAccount.ageMs) return undefined;
    if (f.total >= c.newAccount.rejectTotal) {
      return { action: 'reject', reason: `${usd(f.total)} is more than a new account may buy` };
    }
    if (f.total >= c.newAccount.holdTotal) {
      return { action: 'hold', reason: `${usd(f.total)} from an account younger than the review age` };
    }
    return undefined;
  },
  velocity: (f, c) =>
    f.recentOrders >= c.velocity.max
      ? {
          action: 'hold',
          reason: `more than ${c.velocity.max} orders within ${c.velocity.windowMs / 1000} s`,
        }
      : undefined,
  balance: (f, c) =>
    f.total >= c.balance.minTotal && f.total * 100n >= f.balance * BigInt(c.balance.percent)
      ? { action: 'hold', reason: `${usd(f.total)} spends ${c.balance.percent}% or more of the balance` }
      : undefined,
  history: (f, c) =>
    f.historyCount >= c.history.minOrders &&
    f.total >= c.history.minTotal &&
    f.total * BigInt(f.historyCount) >= f.historyTotal * BigInt(c.history.multiplier)
      ? { action: 'hold', reason: `${usd(f.total)} is ${c.history.multiplier}× the usual order or more` }
      : undefined,
  deposit_burst: (f, c) =>
    f.recentDeposits > 0n &&
    f.total >= c.burst.minTotal &&
    f.total * 100n >= f.recentDeposits * BigInt(c.burst.percent)
      ? { action: 'hold', reason: `${usd(f.total)} spends a fresh deposit at once` }
      : undefined,
};

const SEVERITY: Record<FraudAction, number> = { allow: 0, hold: 1, reject: 2 };

export function assess(facts: FraudFacts, config: FraudConfig): FraudDecision {
  if (!config.enabled) return { action: 'allow' };
  let decision: FraudDecision = { action: 'allow' };
  for (const [rule, check] of Object.entries(RULES)) {
    const outcome = check(facts, config);
    if (outcome && SEVERITY[outcome.action] > SEVERITY[decision.action]) decision = { ...outcome, rule };
  }
  return decision;
}
