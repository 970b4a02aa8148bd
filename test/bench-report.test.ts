import { computeRatios, flatFigures, type Results } from '../bench/report.js';
import type { Ladder } from '../bench/stats.js';
import type { OrderStep } from '../bench/system.js';

/** A ladder whose best rate ran three times with these throughputs and CPU (% of a core). */
function ladder(rate: number, throughputs: number[], cpuPct = 100): Ladder<OrderStep> {
  const atBest = throughputs.map(
    (throughput) =>
      ({
        rate,
        throughput,
        pass: true,
        latency: { p50: 50, p99: 200 },
        settle: { p50: 80, p99: 300 },
        cpu: { bench: cpuPct, temporal: 0, postgres: 0, loadgen: 0, machine: cpuPct, threads: {} },
      }) as unknown as OrderStep,
  );
  return { steps: atBest, atBest, bestRate: rate };
}

const results = (system: Results['system']): Results => ({
  stamp: 'test',
  startedAt: '2026-11-30T00:00:00Z',
  config: {},
  machine: {},
  stack: {},
  baselines: {},
  system,
  ratios: [],
  figures: {},
  notes: [],
});

const pooledRatio = (r: Results) => computeRatios(r).find((x) => x.name === 'pooled_per_s_ratio')!;

describe('pooled_per_s_ratio', () => {
  it('divides by the $12 orders searched in turn with the pooled ones, not by the earlier phase', () => {
    const r = results({
      orders: ladder(40, [39, 40, 40], 200),
      ordersBesidePooled: ladder(30, [29, 30, 30], 150),
      pooled: ladder(27, [26, 27, 27], 180),
    });
    const ratio = pooledRatio(r);
    expect(ratio.value).toBe(0.9);
    expect(ratio.met).toBe(true);
    // CPU per op: 150 % / 30 = 50 ms against 180 % / 27 = 66.7 ms.
    expect(ratio.cpuRatio).toBeCloseTo(50 / 66.7, 2);
    expect(ratio.detail).toContain('searched in turn with them');
    r.ratios = computeRatios(r);
    expect(flatFigures(r).orders_beside_pooled_per_s).toBe(30);
  });

  it('falls back on the orders phase when the search in turn with the pooled orders found no rate', () => {
    const r = results({
      orders: ladder(40, [39, 40, 40]),
      ordersBesidePooled: { steps: [], atBest: [] },
      pooled: ladder(27, [26, 27, 27]),
    });
    const ratio = pooledRatio(r);
    expect(ratio.value).toBe(0.675);
    expect(ratio.detail).toContain('found no rate');
  });

  it('falls back on the orders phase when the pooled ladder ran without them', () => {
    const ratio = pooledRatio(
      results({ orders: ladder(40, [39, 40, 40]), pooled: ladder(27, [26, 27, 27]) }),
    );
    expect(ratio.value).toBe(0.675);
    expect(ratio.met).toBe(false);
    expect(ratio.detail).not.toContain('in turn');
  });
});
