import { shardSweep, shardsNeeded, simulateShards } from '../bench/pool-shards.js';

const base = { thresholdCents: 1_000, maxWaitMs: 60_000, orderCents: 200, seconds: 600, seed: 7 };

describe('POOL_SHARDS simulation', () => {
  it('buys $2 orders five to a batch, never below the threshold unless flushed by the max wait', () => {
    for (const shards of [1, 2, 4, 8]) {
      const out = simulateShards({ ...base, rate: 100, shards });
      expect(out.fullBelowThreshold).toBe(0);
      expect(out.minFullBatchCents).toBe(1_000);
      expect(out.meanOrdersPerBatch).toBeCloseTo(5, 1);
      expect(out.timeoutShare).toBe(0);
      expect(out.perWorkflowSignalsPerSecond).toBe(100 / shards);
    }
  });

  it('orders of mixed sizes still reach the threshold in every full batch', () => {
    const out = simulateShards({ ...base, rate: 50, shards: 4, orderCents: [100, 999] });
    expect(out.fullBelowThreshold).toBe(0);
    expect(out.minFullBatchCents!).toBeGreaterThanOrEqual(1_000);
  });

  it('flushes by timeout once a shard fills too slowly, more so with more shards', () => {
    // 0.05 orders/s: a $10 batch needs 5 orders, ~100 s, more than the 60 s max wait.
    const one = simulateShards({ ...base, rate: 0.05, shards: 1, seconds: 36_000 });
    const four = simulateShards({ ...base, rate: 0.05, shards: 4, seconds: 36_000 });
    expect(one.timeoutShare).toBeGreaterThan(0.3);
    expect(four.timeoutShare).toBeGreaterThan(one.timeoutShare);
    expect(four.meanWaitMs).toBeGreaterThan(one.meanWaitMs);
  });

  it('is deterministic for a seed', () => {
    expect(simulateShards({ ...base, rate: 30, shards: 3 })).toEqual(
      simulateShards({ ...base, rate: 30, shards: 3 }),
    );
  });

  it('refuses nonsense', () => {
    expect(() => simulateShards({ ...base, rate: 10, shards: 0 })).toThrow(/shards/);
    expect(() => simulateShards({ ...base, rate: 0, shards: 1 })).toThrow(/rate/);
  });

  it('shards needed keeps each workflow at the headroom share of the ceiling', () => {
    expect(shardsNeeded(100, 400)).toBe(1);
    expect(shardsNeeded(200, 400)).toBe(1);
    expect(shardsNeeded(201, 400)).toBe(2);
    expect(shardsNeeded(1_000, 400, 0.5)).toBe(5);
  });

  it('the sweep states where one pool per crypto stops being enough', () => {
    const sweep = shardSweep({
      ceiling: 300,
      ceilingSource: 'test',
      thresholdCents: 1_000,
      maxWaitMs: 900_000,
      rates: [100, 400],
      shards: [1, 2],
    });
    expect(sweep.onePoolLimitPerSecond).toBe(150);
    const at400 = sweep.rows.filter((r) => r.rate === 400);
    expect(at400.every((r) => r.shardsNeeded === 3)).toBe(true);
    expect(at400.find((r) => r.shards === 1)!.ceilingShare).toBeCloseTo(400 / 300, 2);
  });
});
