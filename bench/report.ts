/** Ratios against the baselines, the printed table and the JSON file. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DbBaseline, SignalStep } from './baselines.js';
import { cpuPerOp, formatCpu, type CpuUse } from './cpu.js';
import { spread, type Spread } from './ladder.js';
import type { SaturateResult } from './load.js';
import type { InFlightMemory, LeakCheck } from './memory.js';
import type { PoolDirectStep } from './pool.js';
import type { ShardSweep } from './pool-shards.js';
import type { LatencySummary, Ladder, StepResult } from './stats.js';
import type { MemoryReport, OrderStep } from './system.js';

export interface Ratio {
  /** snake_case; every ratio's name contains `ratio`. */
  name: string;
  value: number | null;
  /** e.g. ">= 0.9"; null when the figure is informative only. */
  target: string | null;
  met: boolean | null;
  /** The same comparison from CPU per operation, beside each rate ratio. */
  cpuRatio?: number | null;
  detail: string;
}

export interface Results {
  stamp: string;
  startedAt: string;
  finishedAt?: string;
  durationSeconds?: number;
  config: Record<string, unknown>;
  machine: Record<string, unknown>;
  stack: Record<string, unknown>;
  baselines: {
    http?: SaturateResult;
    db?: DbBaseline;
    temporal?: Ladder<StepResult>;
    signal?: Ladder<SignalStep>;
    /** B-temporal run right before the orders' repeats at their rate (placement p99 ratio). */
    temporalAtSystemRate?: StepResult[];
  };
  system: {
    orders?: Ladder<OrderStep>;
    pooled?: Ladder<OrderStep>;
    /** $12 orders searched again in turn with the pooled ladder: the pooled ratio's denominator. */
    ordersBesidePooled?: Ladder<OrderStep>;
    poolDirect?: Ladder<PoolDirectStep>;
    exchangeRoundTrip?: LatencySummary;
    memory?: MemoryReport;
    inFlight?: InFlightMemory;
    leak?: LeakCheck;
    shards?: ShardSweep;
  };
  ratios: Ratio[];
  /** Every ratio and key figure by name, for comparing runs. */
  figures: Record<string, number | null>;
  notes: string[];
  error?: string;
}

const ratioOf = (a: number | null | undefined, b: number | null | undefined) =>
  a == null || b == null || b === 0 ? null : Number((a / b).toFixed(3));

/** Median and min–max of one figure over the repeats at a ladder's best rate. */
export const figure = <S extends StepResult>(
  ladder: Ladder<S> | undefined,
  of: (s: S) => number | null | undefined,
) => spread((ladder?.atBest ?? []).map(of));

/** CPU ms (app + Temporal + Postgres) per completed operation of one step. */
export function cpuMsPerOp(step: StepResult): number | null {
  const per = cpuPerOp(step.cpu as CpuUse | undefined, step.throughput);
  return per ? Number(((per.app ?? 0) + (per.temporal ?? 0) + (per.postgres ?? 0)).toFixed(1)) : null;
}

const show = (s: Spread, unit = '') =>
  s.median === null ? '—' : s.n > 1 ? `${s.median}${unit} [${s.min}–${s.max}]` : `${s.median}${unit}`;

/** Every B-temporal step run at `rate`: the ladder's and the ones run beside the orders' repeats. */
export function temporalAt(results: Results, rate: number): StepResult[] {
  return [
    ...(results.baselines.temporal?.steps ?? []).filter((s) => s.rate === rate),
    ...(results.baselines.temporalAtSystemRate ?? []).filter((s) => s.rate === rate),
  ];
}

/**
 * Whether pool-direct was searched only up to B-signal's best rate (the default), so that its figure
 * is a floor of the pool's ceiling, not the ceiling.
 */
export const poolDirectCapped = (results: Results) => results.config?.poolDirectSearch === 'to B-signal';

/** Orders/s one pool workflow absorbs: pool-direct's best, else B-signal's. */
export function poolCeiling(results: Results): { ceiling: number; source: string } | undefined {
  const direct = figure(results.system?.poolDirect, (s) => s.throughput).median;
  if (direct)
    return {
      ceiling: direct,
      source: poolDirectCapped(results)
        ? "pool-direct at B-signal's best rate, a floor (BENCH_POOL_DIRECT=ceiling searches the ceiling)"
        : 'pool-direct',
    };
  const signal = figure(results.baselines?.signal, (s) => s.throughput).median;
  return signal ? { ceiling: signal, source: 'B-signal' } : undefined;
}

export function computeRatios(results: Results): Ratio[] {
  const { baselines: b, system: sys } = results;
  const ratios: Ratio[] = [];
  const add = (r: Omit<Ratio, 'met'>, op: '>=' | '<=' | null, bound = 0) =>
    ratios.push({
      ...r,
      met: op === null || r.value === null ? null : op === '>=' ? r.value >= bound : r.value <= bound,
    });
  const rate = <S extends StepResult>(l: Ladder<S> | undefined) => figure(l, (s) => s.throughput);
  const cpu = <S extends StepResult>(l: Ladder<S> | undefined) => figure(l, cpuMsPerOp);

  const temporal = rate(b.temporal);
  const orders = rate(sys.orders);
  const pooled = rate(sys.pooled);
  // Temporal's dev server slows as its in-memory database fills (bench/README): pooled orders are
  // compared with $12 orders searched in the same stretch of the run, when that search found a rate.
  const besideFound = sys.ordersBesidePooled?.bestRate !== undefined;
  const ordersBeside = besideFound ? sys.ordersBesidePooled : sys.orders;
  const ordersThen = rate(ordersBeside);
  const whichOrders = besideFound
    ? ' searched in turn with them'
    : sys.ordersBesidePooled
      ? ' of the orders phase (the search in turn with them found no rate)'
      : '';
  add(
    {
      name: 'orders_per_s_ratio',
      value: ratioOf(orders.median, temporal.median),
      target: '>= 0.9',
      cpuRatio: ratioOf(cpu(b.temporal).median, cpu(sys.orders).median),
      detail: `${show(orders, '/s')} ÷ ${show(temporal, '/s')} completions; CPU ms/op ${show(cpu(b.temporal))} ÷ ${show(cpu(sys.orders))} (inverse)`,
    },
    '>=',
    0.9,
  );
  const bestRate = sys.orders?.bestRate;
  const beside = bestRate === undefined ? [] : temporalAt(results, bestRate);
  const placementP99 = figure(sys.orders, (s) => s.latency.p99);
  const temporalP99 = spread(beside.map((s) => s.latency.p99));
  add(
    {
      name: 'placement_p99_ratio',
      value: ratioOf(placementP99.median, temporalP99.median),
      target: '<= 1.5',
      detail: `${show(placementP99, ' ms')} ÷ ${show(temporalP99, ' ms')}, both at ${bestRate ?? '—'}/s offered`,
    },
    '<=',
    1.5,
  );
  add(
    {
      name: 'pooled_per_s_ratio',
      value: ratioOf(pooled.median, ordersThen.median),
      target: '>= 0.9',
      cpuRatio: ratioOf(cpu(ordersBeside).median, cpu(sys.pooled).median),
      detail: `${show(pooled, '/s')} ÷ ${show(ordersThen, '/s')} $12 orders${whichOrders}; CPU ms/op ${show(cpu(ordersBeside))} ÷ ${show(cpu(sys.pooled))} (inverse)`,
    },
    '>=',
    0.9,
  );
  const lag = figure(sys.pooled, (s) => s.batchLag?.bought.p99);
  add(
    {
      name: 'pool_batch_lag_p99_ms',
      value: lag.median,
      target: '<= 1000',
      detail: `filling order → batch bought, p99 ${show(lag, ' ms')} (p50 ${show(
        figure(sys.pooled, (s) => s.batchLag?.bought.p50),
        ' ms',
      )}; → opened p99 ${show(
        figure(sys.pooled, (s) => s.batchLag?.opened.p99),
        ' ms',
      )}) at ${sys.pooled?.bestRate ?? '—'}/s`,
    },
    '<=',
    1000,
  );
  const settleP99 = figure(sys.pooled, (s) => s.settleFromFill?.p99);
  const pooledP99 = figure(sys.pooled, (s) => s.latency.p99);
  const rtt = sys.exchangeRoundTrip?.p50 ?? null;
  const bound = pooledP99.median === null || rtt === null ? null : 2 * pooledP99.median + rtt;
  add(
    {
      name: 'pooled_settle_ratio',
      value: ratioOf(settleP99.median, bound),
      target: '<= 1',
      detail: `settle p99 from the batch's fill ${show(settleP99, ' ms')} ÷ (2 × placement p99 ${show(pooledP99, ' ms')} + exchange round trip ${rtt ?? '—'} ms); from the request ${show(
        figure(sys.pooled, (s) => s.settle.p99),
        ' ms',
      )}`,
    },
    '<=',
    1,
  );
  const direct = rate(sys.poolDirect);
  const signal = rate(b.signal);
  add(
    {
      name: 'pool_direct_ratio',
      value: ratioOf(direct.median, signal.median),
      target: '>= 0.8',
      cpuRatio: ratioOf(cpu(b.signal).median, cpu(sys.poolDirect).median),
      detail: `${show(direct, '/s')} ÷ ${show(signal, '/s')} signals${
        poolDirectCapped(results) ? " (pool searched up to B-signal's best rate: at most ~1)" : ''
      }; CPU ms/op ${show(cpu(b.signal))} ÷ ${show(cpu(sys.poolDirect))} (inverse)`,
    },
    '>=',
    0.8,
  );
  add(
    {
      name: 'debits_db_ratio',
      value: ratioOf(orders.median, b.db?.randomTps),
      target: null,
      detail: `${orders.median ?? '—'} ÷ ${b.db?.randomTps ?? '—'} tps (one debit per order; information only)`,
    },
    null,
  );
  return ratios;
}

/** The ratios and the figures behind them, flat, for comparing runs. */
export function flatFigures(results: Results): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const r of results.ratios) {
    out[r.name] = r.value;
    if (r.cpuRatio !== undefined) out[r.name.replace(/(_per_s)?_ratio$/, '_cpu_ratio')] = r.cpuRatio;
  }
  const { baselines: b, system: sys } = results;
  out.temporal_per_s = figure(b.temporal, (s) => s.throughput).median;
  out.signal_per_s = figure(b.signal, (s) => s.throughput).median;
  out.orders_per_s = figure(sys.orders, (s) => s.throughput).median;
  out.pooled_per_s = figure(sys.pooled, (s) => s.throughput).median;
  out.orders_beside_pooled_per_s = figure(sys.ordersBesidePooled, (s) => s.throughput).median;
  out.pool_direct_per_s = figure(sys.poolDirect, (s) => s.throughput).median;
  out.app_mib_per_1000_in_flight = sys.inFlight?.appPer1000MiB ?? null;
  out.temporal_mib_per_1000_in_flight = sys.inFlight?.temporalPer1000MiB ?? null;
  if (sys.leak) out.leak_app_mib_per_min = sys.leak.appSlopeMiBPerMin;
  return out;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r, i) => {
      const line = r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd();
      return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

const ms = (v: number | null | undefined) => (v == null ? '—' : `${v} ms`);
const settleOf = (s: OrderStep) => `settle p50 ${ms(s.settle.p50)} p99 ${ms(s.settle.p99)}`;
const fmt = (v: number | null | undefined, unit = '') => (v == null ? '—' : `${v}${unit}`);

function ladderRows<S extends StepResult>(
  name: string,
  ladder: Ladder<S> | undefined,
  extra: (s: S) => string,
) {
  return (ladder?.steps ?? []).map((s) => [
    name,
    `${s.rate}/s`,
    `${s.throughput}/s`,
    ms(s.latency.p50),
    ms(s.latency.p99),
    (s.pass ? 'ok' : '✗') + (s.repeat ? ' (r)' : ''),
    [extra(s), formatCpu(s.cpu)].filter(Boolean).join('; '),
  ]);
}

const rateCell = <S extends StepResult>(l: Ladder<S> | undefined, unit = ' /s') =>
  l?.bestRate === undefined
    ? '—'
    : show(
        figure(l, (s) => s.throughput),
        unit,
      );
const knee = <S extends StepResult>(l: Ladder<S> | undefined) =>
  l?.bestRate === undefined
    ? 'no rate passed'
    : `best ${l.bestRate}/s (${l.atBest.length} runs), first fail ${l.firstFailRate ?? '—'}/s`;

export function render(results: Results): string {
  const { baselines: b, system: sys } = results;
  const out: string[] = [];
  const mem = sys.memory;
  const inFlight = sys.inFlight;
  const cpuRows = (
    [
      ['CPU per B-temporal workflow', b.temporal],
      ['CPU per order ($12)', sys.orders],
      ['CPU per order ($12), again', sys.ordersBesidePooled],
      ['CPU per pooled order ($2)', sys.pooled],
      ['CPU per B-signal signal', b.signal],
      ['CPU per pool-direct order', sys.poolDirect],
    ] as [string, Ladder<StepResult> | undefined][]
  ).map(([label, ladder]) => {
    const step = ladder?.best;
    const per = step && cpuPerOp(step.cpu, step.throughput);
    return [
      label,
      show(figure(ladder, cpuMsPerOp), ' ms'),
      per
        ? `median step: ${per.temporal} Temporal + ${per.app} API/worker + ${per.postgres ?? 'n/a'} Postgres`
        : '',
    ];
  });
  out.push(
    table([
      ['Figure', 'Value [min–max]', 'Detail'],
      [
        'B-http (Fastify hello world)',
        fmt(b.http && Math.round(b.http.requestsPerSecond), ' req/s'),
        b.http ? `saturation, ${b.http.connections} connections, p99 ${b.http.latencyP99} ms` : '',
      ],
      ['B-db (debit, 1000 random wallets)', fmt(b.db?.randomTps, ' tps'), b.db ? `${b.db.tool}` : ''],
      ['B-db (debit, one hot wallet)', fmt(b.db?.hotTps, ' tps'), b.db ? `${b.db.seconds} s each` : ''],
      ['B-temporal (update-with-start)', rateCell(b.temporal), knee(b.temporal)],
      [
        'B-signal (one workflow)',
        rateCell(b.signal),
        `${knee(b.signal)}; query lag ${show(
          figure(b.signal, (s) => s.queryLagMs),
          ' ms',
        )}`,
      ],
      [
        'System orders $12 (placed/s)',
        rateCell(sys.orders),
        `${knee(sys.orders)}; placement p99 ${show(
          figure(sys.orders, (s) => s.latency.p99),
          ' ms',
        )}, settle p99 ${show(
          figure(sys.orders, (s) => s.settle.p99),
          ' ms',
        )}`,
      ],
      [
        'System orders $12, again (placed/s)',
        rateCell(sys.ordersBesidePooled),
        `${knee(sys.ordersBesidePooled)}; in turn with the pooled orders`,
      ],
      [
        'System pooled $2 (placed/s)',
        rateCell(sys.pooled),
        `${knee(sys.pooled)}; settle p99 ${show(
          figure(sys.pooled, (s) => s.settle.p99),
          ' ms',
        )}; ${show(figure(sys.pooled, (s) => s.batchesPerSecond))} batches/s`,
      ],
      [
        'Pool fed directly (orders/s)',
        rateCell(sys.poolDirect),
        `${knee(sys.poolDirect)}; query lag ${show(
          figure(sys.poolDirect, (s) => s.queryLagMs),
          ' ms',
        )}, drained ${show(
          figure(sys.poolDirect, (s) => s.drainMs),
          ' ms',
        )} after the last signal`,
      ],
      [
        'Exchange round trip (simulator)',
        ms(sys.exchangeRoundTrip?.p50),
        sys.exchangeRoundTrip
          ? `p99 ${ms(sys.exchangeRoundTrip.p99)}, ${sys.exchangeRoundTrip.count} sequential buys`
          : '',
      ],
      ...cpuRows,
      [
        'RSS API+worker per 1,000 in flight',
        fmt(inFlight?.appPer1000MiB, ' MiB'),
        inFlight
          ? `${inFlight.appBeforeMiB} → ${inFlight.appAtPeakMiB} MiB with ${inFlight.inFlight} orders in flight (${inFlight.method})`
          : '',
      ],
      [
        'RSS Temporal per 1,000 in flight',
        fmt(inFlight?.temporalPer1000MiB, ' MiB'),
        inFlight ? `${inFlight.temporalBeforeMiB} → ${inFlight.temporalAtPeakMiB} MiB` : '',
      ],
      [
        'Peak RSS API+worker (bench process)',
        fmt(mem?.benchProcessPeakRssMiB, ' MiB'),
        mem ? `maxRSS of the whole run; ${mem.systemPhasePeakRssMiB} MiB during the system ladders` : '',
      ],
      ['Peak RSS Temporal dev server', fmt(mem?.temporalPeakMiB, ' MiB'), 'VmHWM'],
      [
        'Peak RSS Postgres',
        mem?.postgresBenchBackendsPeakMiB == null ? 'n/a' : `${mem.postgresBenchBackendsPeakMiB} MiB`,
        mem?.postgresAllProcessesPeakMiB == null
          ? (mem?.postgresNote ?? '')
          : `bench backends + postmaster (all server processes: ${mem.postgresAllProcessesPeakMiB} MiB); VmHWM sums`,
      ],
      ...(sys.leak
        ? [
            [
              'Leak check (VmRSS slope)',
              fmt(sys.leak.appSlopeMiBPerMin, ' MiB/min'),
              `API+worker; Temporal ${fmt(sys.leak.temporalSlopeMiBPerMin, ' MiB/min')}; ${sys.leak.seconds} s at ${sys.leak.rate}/s, sampled every 10 s`,
            ],
          ]
        : []),
    ]),
  );
  out.push('');
  out.push(
    table([
      ['Ratio', 'Value', 'CPU ratio', 'Target', 'Met', 'From (median [min–max] of the repeats)'],
      ...results.ratios.map((r) => [
        r.name,
        fmt(r.value),
        r.cpuRatio === undefined ? '' : fmt(r.cpuRatio),
        r.target ?? '(info)',
        r.met === null ? '' : r.met ? 'yes' : 'NO',
        r.detail,
      ]),
    ]),
  );
  if (sys.shards) {
    const sh = sys.shards;
    out.push(
      '',
      `POOL_SHARDS simulation: one pool per crypto is enough up to ${poolDirectCapped(results) ? 'at least ' : ''}${sh.onePoolLimitPerSecond} pooled orders/s (ceiling: ${sh.ceilingSource})`,
    );
    out.push(
      table([
        [
          'Rate',
          'Shards',
          'Per workflow',
          'Of ceiling',
          'Orders/batch',
          'Min full batch',
          'Timeout flushes',
          'Shards needed',
        ],
        ...sh.rows
          .filter((r, i) => i % 2 === 0 && [1, 4].includes(r.shards) && r.rate >= 10)
          .map((r) => [
            `${r.rate}/s`,
            String(r.shards),
            `${r.perWorkflowSignalsPerSecond}/s`,
            `${Math.round(r.ceilingShare * 100)} %`,
            String(r.meanOrdersPerBatch),
            r.minFullBatchCents === null ? '—' : `$${(r.minFullBatchCents / 100).toFixed(2)}`,
            `${Math.round(r.timeoutShare * 100)} %`,
            String(r.shardsNeeded),
          ]),
      ]),
    );
  }
  out.push('');
  out.push(
    table([
      ['Ladder', 'Offered', 'Done', 'p50', 'p99', 'Pass', 'More'],
      ...ladderRows('B-temporal', b.temporal, () => ''),
      ...ladderRows(
        'B-temporal*',
        { steps: b.temporalAtSystemRate ?? [], atBest: [] },
        () => 'beside the orders',
      ),
      ...ladderRows('orders', sys.orders, settleOf),
      ...ladderRows('orders*', sys.ordersBesidePooled, (s) => `in turn with the pooled; ${settleOf(s)}`),
      ...ladderRows('B-signal', b.signal, (s) => `query lag ${ms(s.queryLagMs)}`),
      ...ladderRows(
        'pool-direct',
        sys.poolDirect,
        (s) => `query lag ${ms(s.queryLagMs)}, drained ${ms(s.drainMs)}`,
      ),
      ...ladderRows(
        'pooled',
        sys.pooled,
        (s) =>
          `settle p99 ${ms(s.settle.p99)} (from fill ${ms(s.settleFromFill?.p99)}), ${s.batches ?? 0} batches; lag to bought p99 ${ms(s.batchLag?.bought.p99)}`,
      ),
    ]),
  );
  if (results.notes.length) out.push('', ...results.notes.map((n) => `note: ${n}`));
  return out.join('\n');
}

export async function writeResults(dir: string, results: Results): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${results.stamp}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}
