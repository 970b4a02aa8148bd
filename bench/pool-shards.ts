/**
 * POOL_SHARDS, simulated: pooled orders arrive (Poisson) at a rate per crypto; order i goes to shard
 * i % shards; each shard buys a batch once it holds the threshold, or once its oldest order has waited
 * the max wait (the house tops that batch up). Pure: no I/O, a seeded random source, so the same
 * scenario always gives the same figures. `npm run bench:shards` prints a sweep (see the end).
 *
 * What it answers: the per-workflow signal rate each shard must absorb, against the rate one pool
 * workflow was measured to absorb (pool-direct, else B-signal), and what sharding costs: batches
 * still reach the threshold (only a max-wait flush buys less), and flushes by timeout only appear
 * when a shard's own arrival rate is too low to fill a batch within the max wait.
 */
import { seededRandom } from '../tools/seeded-random.js';

export interface ShardScenario {
  /** Pooled orders per second for one crypto. */
  rate: number;
  shards: number;
  thresholdCents: number;
  maxWaitMs: number;
  /** Each order's total, cents: a fixed value or a uniform [min, max] range. */
  orderCents: number | [number, number];
  /** Simulated time. */
  seconds: number;
  seed?: number;
}

export interface ShardOutcome {
  rate: number;
  shards: number;
  batches: number;
  /** Share of batches bought because the max wait ran out (house top-up), 0..1. */
  timeoutShare: number;
  /** Batches bought at the threshold that held less than it: must be 0. */
  fullBelowThreshold: number;
  meanOrdersPerBatch: number;
  /** Smallest total of a batch bought at the threshold, cents. */
  minFullBatchCents: number | null;
  meanBatchCents: number;
  /** Mean wait from an order's arrival to its batch, ms. */
  meanWaitMs: number;
  /** addOrder signals each shard's workflow absorbs per second. */
  perWorkflowSignalsPerSecond: number;
}

interface Shard {
  pending: { at: number; cents: number }[];
  total: number;
}

export function simulateShards(s: ShardScenario): ShardOutcome {
  if (s.shards < 1 || !Number.isInteger(s.shards)) throw new Error('shards must be a positive integer');
  if (s.rate <= 0 || s.thresholdCents <= 0) throw new Error('rate and threshold must be positive');
  const next = seededRandom(s.seed ?? 1);
  const shards: Shard[] = Array.from({ length: s.shards }, () => ({ pending: [], total: 0 }));
  const batches: { cents: number; orders: number; timeout: boolean }[] = [];
  let waited = 0;
  let bought = 0;
  const buy = (shard: Shard, at: number, timeout: boolean) => {
    batches.push({ cents: shard.total, orders: shard.pending.length, timeout });
    for (const o of shard.pending) waited += at - o.at;
    bought += shard.pending.length;
    shard.pending = [];
    shard.total = 0;
  };
  // Flushes every shard whose oldest order's max wait ran out before `until`.
  const flushUntil = (until: number) => {
    for (const shard of shards) {
      const oldest = shard.pending[0];
      if (oldest && oldest.at + s.maxWaitMs <= until) buy(shard, oldest.at + s.maxWaitMs, true);
    }
  };
  const end = s.seconds * 1000;
  let t = 0;
  for (let i = 0; ; i++) {
    t += (-Math.log(1 - next()) / s.rate) * 1000;
    if (t > end) break;
    flushUntil(t);
    const cents = Array.isArray(s.orderCents)
      ? s.orderCents[0] + Math.floor(next() * (s.orderCents[1] - s.orderCents[0] + 1))
      : s.orderCents;
    const shard = shards[i % s.shards]!;
    shard.pending.push({ at: t, cents });
    shard.total += cents;
    if (shard.total >= s.thresholdCents) buy(shard, t, false);
  }
  flushUntil(end);
  const full = batches.filter((b) => !b.timeout);
  return {
    rate: s.rate,
    shards: s.shards,
    batches: batches.length,
    timeoutShare: batches.length ? round(batches.filter((b) => b.timeout).length / batches.length, 3) : 0,
    fullBelowThreshold: full.filter((b) => b.cents < s.thresholdCents).length,
    meanOrdersPerBatch: batches.length ? round(bought / batches.length, 2) : 0,
    minFullBatchCents: full.length ? Math.min(...full.map((b) => b.cents)) : null,
    meanBatchCents: batches.length ? round(batches.reduce((a, b) => a + b.cents, 0) / batches.length, 0) : 0,
    meanWaitMs: bought ? round(waited / bought, 0) : 0,
    perWorkflowSignalsPerSecond: round(s.rate / s.shards, 1),
  };
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

/**
 * Shards one crypto needs at `rate` so that no workflow takes more than `headroom` of the measured
 * ceiling (signals/s one pool workflow absorbs): bursts and batch work need the rest.
 */
export function shardsNeeded(rate: number, ceiling: number, headroom = 0.5): number {
  if (ceiling <= 0) throw new Error('ceiling must be positive');
  return Math.max(1, Math.ceil(rate / (ceiling * headroom)));
}

export interface ShardSweep {
  ceiling: number;
  ceilingSource: string;
  headroom: number;
  /** Pooled orders/s per crypto above which one pool workflow per crypto is no longer enough. */
  onePoolLimitPerSecond: number;
  rows: (ShardOutcome & { ceilingShare: number; shardsNeeded: number })[];
}

/** The sweep the bench reports: rates × shards for $2 orders and for orders of $1–$9.99. */
export function shardSweep(options: {
  ceiling: number;
  ceilingSource: string;
  thresholdCents: number;
  maxWaitMs: number;
  rates?: number[];
  shards?: number[];
  headroom?: number;
}): ShardSweep {
  const headroom = options.headroom ?? 0.5;
  const rows: ShardSweep['rows'] = [];
  for (const rate of options.rates ?? [1, 10, 50, 100, 200, 400, 800, 1600]) {
    for (const shards of options.shards ?? [1, 2, 4, 8]) {
      for (const orderCents of [200, [100, 999]] as ShardScenario['orderCents'][]) {
        const outcome = simulateShards({
          rate,
          shards,
          thresholdCents: options.thresholdCents,
          maxWaitMs: options.maxWaitMs,
          orderCents,
          // Enough simulated time for 20,000 orders, and a few max waits if 200,000 orders allow.
          seconds: Math.max(20_000 / rate, Math.min((4 * options.maxWaitMs) / 1000, 200_000 / rate)),
          seed: rate * 31 + shards,
        });
        rows.push({
          ...outcome,
          ceilingShare: round(outcome.perWorkflowSignalsPerSecond / options.ceiling, 3),
          shardsNeeded: shardsNeeded(rate, options.ceiling, headroom),
        });
      }
    }
  }
  return {
    ceiling: options.ceiling,
    ceilingSource: options.ceilingSource,
    headroom,
    onePoolLimitPerSecond: round(options.ceiling * headroom, 1),
    rows,
  };
}

export function renderSweep(sweep: ShardSweep): string {
  const lines = [
    `one pool workflow absorbs ${sweep.ceiling} orders/s (${sweep.ceilingSource}); at ${sweep.headroom * 100} % of that,` +
      ` one pool per crypto is enough up to ${sweep.onePoolLimitPerSecond} pooled orders/s`,
    'rate/s  shards  orders $     per-workflow/s  of ceiling  batches  orders/batch  min full $  timeout share  mean wait',
  ];
  for (const r of sweep.rows.filter((_, i) => i % 2 === 0)) {
    lines.push(
      [
        String(r.rate).padStart(6),
        String(r.shards).padStart(6),
        '2.00'.padEnd(10),
        String(r.perWorkflowSignalsPerSecond).padStart(14),
        `${Math.round(r.ceilingShare * 100)} %`.padStart(10),
        String(r.batches).padStart(7),
        String(r.meanOrdersPerBatch).padStart(12),
        (r.minFullBatchCents === null ? '—' : (r.minFullBatchCents / 100).toFixed(2)).padStart(10),
        `${Math.round(r.timeoutShare * 100)} %`.padStart(13),
        `${r.meanWaitMs} ms`.padStart(10),
      ].join('  '),
    );
  }
  return lines.join('\n');
}
