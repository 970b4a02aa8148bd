/** Ratios against the baselines, the printed table and the JSON file. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DbBaseline, SignalStep } from './baselines.js';
import { cpuPerOp, formatCpu, type CpuUse } from './cpu.js';
import type { SaturateResult } from './load.js';
import type { Ladder, StepResult } from './stats.js';
import type { MemoryReport, OrderStep } from './system.js';

export interface Ratio {
  name: string;
  value: number | null;
  /** e.g. ">= 0.7"; null when the ratio is informative only. */
  target: string | null;
  met: boolean | null;
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
    /** B-temporal re-measured at the system's best rate, when the ladder had no step there. */
    temporalAtSystemRate?: StepResult;
  };
  system: {
    orders?: Ladder<OrderStep>;
    pooled?: Ladder<OrderStep>;
    memory?: MemoryReport;
  };
  ratios: Ratio[];
  notes: string[];
  error?: string;
}

const ratioOf = (a: number | null | undefined, b: number | null | undefined) =>
  a == null || b == null || b === 0 ? null : Number((a / b).toFixed(3));

/** The B-temporal step at exactly `rate`, if measured. */
export function temporalAt(results: Results, rate: number): StepResult | undefined {
  return (
    results.baselines.temporal?.steps.find((s) => s.rate === rate) ??
    (results.baselines.temporalAtSystemRate?.rate === rate
      ? results.baselines.temporalAtSystemRate
      : undefined)
  );
}

export function computeRatios(results: Results): Ratio[] {
  const { baselines, system } = results;
  const orders = system.orders?.best;
  const pooled = system.pooled?.best;
  const temporal = baselines.temporal?.best;
  const signal = baselines.signal?.best;
  const sameRate = orders ? temporalAt(results, orders.rate) : undefined;
  const ratios: Ratio[] = [];
  const check = (value: number | null, op: '>=' | '<=', bound: number) =>
    value === null ? false : op === '>=' ? value >= bound : value <= bound;

  const r1 = ratioOf(orders?.ordersPerSecond, temporal?.throughput);
  ratios.push({
    name: 'orders/s ÷ B-temporal',
    value: r1,
    target: '>= 0.7',
    met: check(r1, '>=', 0.7),
    detail: `${orders?.ordersPerSecond ?? '—'} ÷ ${temporal?.throughput ?? '—'} completions/s`,
  });
  const r2 = ratioOf(orders?.latency.p99, sameRate?.latency.p99);
  ratios.push({
    name: 'placement p99 ÷ B-temporal p99',
    value: r2,
    target: '<= 1.5',
    met: check(r2, '<=', 1.5),
    detail: `${orders?.latency.p99 ?? '—'} ÷ ${sameRate?.latency.p99 ?? '—'} ms, both at ${orders?.rate ?? '—'}/s offered`,
  });
  const r3 = ratioOf(pooled?.ordersPerSecond, signal?.throughput);
  ratios.push({
    name: 'pooled orders/s ÷ B-signal',
    value: r3,
    target: '>= 0.8',
    met: check(r3, '>=', 0.8),
    detail: `${pooled?.ordersPerSecond ?? '—'} ÷ ${signal?.throughput ?? '—'} signals/s`,
  });
  // The same comparison from CPU per operation, which other load on the machine hardly moves: on a
  // CPU-bound machine, throughputs stand in the inverse ratio of the CPU each operation needs.
  const total = (cpu: CpuUse | undefined, rate: number | undefined) => {
    const per = rate ? cpuPerOp(cpu, rate) : undefined;
    return per ? (per.app ?? 0) + (per.temporal ?? 0) + (per.postgres ?? 0) : null;
  };
  const perWorkflow = total(temporal?.cpu, temporal?.throughput);
  const perOrder = total(orders?.cpu, orders?.throughput);
  const r1cpu = ratioOf(perWorkflow, perOrder);
  ratios.push({
    name: 'same, from CPU per operation',
    value: r1cpu,
    target: '>= 0.7',
    met: check(r1cpu, '>=', 0.7),
    detail: `${perWorkflow?.toFixed(1) ?? '—'} ÷ ${perOrder?.toFixed(1) ?? '—'} CPU ms (app + Temporal + Postgres) per workflow ÷ per order`,
  });
  const r4 = ratioOf(orders?.ordersPerSecond, baselines.db?.randomTps);
  ratios.push({
    name: 'debits/s ÷ B-db (random wallets)',
    value: r4,
    target: null,
    met: null,
    detail: `${orders?.ordersPerSecond ?? '—'} ÷ ${baselines.db?.randomTps ?? '—'} tps (one debit per order)`,
  });
  return ratios;
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
    s.pass ? 'ok' : '✗',
    [extra(s), formatCpu(s.cpu)].filter(Boolean).join('; '),
  ]);
}

export function render(results: Results): string {
  const { baselines: b, system: sys } = results;
  const out: string[] = [];
  const orders = sys.orders?.best;
  const pooled = sys.pooled?.best;
  const mem = sys.memory;
  out.push(
    table([
      ['Figure', 'Value', 'Detail'],
      [
        'B-http (Fastify hello world)',
        fmt(b.http && Math.round(b.http.requestsPerSecond), ' req/s'),
        b.http ? `saturation, ${b.http.connections} connections, p99 ${b.http.latencyP99} ms` : '',
      ],
      ['B-db (debit, 1000 random wallets)', fmt(b.db?.randomTps, ' tps'), b.db ? `${b.db.tool}` : ''],
      ['B-db (debit, one hot wallet)', fmt(b.db?.hotTps, ' tps'), b.db ? `${b.db.seconds} s each` : ''],
      [
        'B-temporal (update-with-start)',
        fmt(b.temporal?.best?.throughput, ' /s'),
        b.temporal?.best
          ? `at ${b.temporal.best.rate}/s: p50 ${ms(b.temporal.best.latency.p50)}, p99 ${ms(b.temporal.best.latency.p99)}`
          : 'no rate passed',
      ],
      [
        'B-signal (one workflow)',
        fmt(b.signal?.best?.throughput, ' /s'),
        b.signal?.best
          ? `at ${b.signal.best.rate}/s: ack p99 ${ms(b.signal.best.latency.p99)}, query lag ${ms(b.signal.best.queryLagMs)}`
          : 'no rate passed',
      ],
      [
        'System orders $12 (placed/s)',
        fmt(orders?.ordersPerSecond, ' /s'),
        orders
          ? `at ${orders.rate}/s: placement p50 ${ms(orders.latency.p50)} p99 ${ms(orders.latency.p99)}; settle p50 ${ms(orders.settle.p50)} p99 ${ms(orders.settle.p99)}`
          : 'no rate passed',
      ],
      [
        'System pooled $2 (placed/s)',
        fmt(pooled?.ordersPerSecond, ' /s'),
        pooled
          ? `at ${pooled.rate}/s: placement p99 ${ms(pooled.latency.p99)}; settle p50 ${ms(pooled.settle.p50)} p99 ${ms(pooled.settle.p99)}; ${pooled.batchesPerSecond ?? '—'} batches/s (mean ${pooled.meanBatchSize ?? '—'} orders)`
          : 'no rate passed',
      ],
      ...(
        [
          ['CPU per B-temporal workflow', b.temporal?.best],
          ['CPU per order (system, $12)', orders],
          ['CPU per pooled order ($2)', pooled],
        ] as const
      ).map(([label, step]) => {
        const per = step && cpuPerOp(step.cpu, step.throughput);
        return [
          label,
          per ? `${per.temporal} ms Temporal` : '—',
          per ? `+ ${per.app} ms API/worker + ${per.postgres ?? 'n/a'} ms Postgres, at ${step.rate}/s` : '',
        ];
      }),
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
    ]),
  );
  out.push('');
  out.push(
    table([
      ['Ratio', 'Value', 'Target', 'Met', 'From'],
      ...results.ratios.map((r) => [
        r.name,
        fmt(r.value),
        r.target ?? '(info)',
        r.met === null ? '' : r.met ? 'yes' : 'NO',
        r.detail,
      ]),
    ]),
  );
  out.push('');
  out.push(
    table([
      ['Ladder', 'Offered', 'Done', 'p50', 'p99', 'Pass', 'More'],
      ...ladderRows('B-temporal', b.temporal, () => ''),
      ...(b.temporalAtSystemRate
        ? ladderRows('B-temporal*', { steps: [b.temporalAtSystemRate] }, () => 're-run')
        : []),
      ...ladderRows('B-signal', b.signal, (s) => `query lag ${ms(s.queryLagMs)}`),
      ...ladderRows('orders', sys.orders, (s) => `settle p50 ${ms(s.settle.p50)} p99 ${ms(s.settle.p99)}`),
      ...ladderRows(
        'pooled',
        sys.pooled,
        (s) => `settle p99 ${ms(s.settle.p99)}, ${s.batches ?? 0} batches (${s.batchesPerSecond ?? '—'}/s)`,
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
