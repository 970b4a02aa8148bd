/**
 * `make bench`: starts the whole stack in this process (see bench/stack.ts), measures the baselines
 * and then the system back to back, prints a table of figures and ratios, and writes
 * bench/results/<timestamp>.json. See bench/README.md for what each figure means and the knobs.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { WorkerOptions } from '@temporalio/worker';
import {
  benchDb,
  benchHttp,
  benchSignal,
  benchTemporal,
  startBaselineServer,
  type BaselineServer,
  type BenchContext,
} from './baselines.js';
import { LoadGenerator } from './load.js';
import { computeRatios, render, temporalAt, writeResults, type Results } from './report.js';
import { FORCED_ENV, startStack, type Stack } from './stack.js';
import { cpuBetween, parentOf, snapshot, type CpuPids } from './cpu.js';
import { judge } from './stats.js';
import { benchOrders, benchPooled, createUsers, sampleMemory } from './system.js';

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
const started = new Date();
const stamp = started.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
const t0 = performance.now();
const log = (line: string) =>
  process.stdout.write(`[bench +${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);

function number(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, not "${raw}"`);
  return value;
}

function json<T>(name: string, fallback: T): T {
  const raw = process.env[name];
  if (!raw) return fallback;
  try {
    return JSON.parse(raw) as T;
  } catch {
    throw new Error(`${name} must be JSON, not ${raw}`);
  }
}

const PHASES = ['http', 'db', 'temporal', 'signal', 'orders', 'pooled'] as const;
type Phase = (typeof PHASES)[number];

const seconds = number('BENCH_SECONDS', 10);
const config = {
  /** Length of one measurement (B-http, and pgbench's two runs together). */
  seconds,
  /** Length of one step of a rate ladder. */
  stepSeconds: Math.max(2, Math.round(seconds / 2)),
  p99BudgetMs: number('BENCH_P99_BUDGET_MS', 500),
  users: Math.round(number('BENCH_USERS', 2_000)),
  workerOptions: json<Partial<WorkerOptions>>('BENCH_WORKER_OPTIONS', {}),
  baselineWorkerOptions: json<Partial<WorkerOptions>>('BENCH_BASELINE_WORKER_OPTIONS', {}),
  temporalFlags: (process.env.BENCH_TEMPORAL_FLAGS ?? '').split(/\s+/).filter(Boolean),
  temporalDbFile: process.env.BENCH_TEMPORAL_DB === 'file',
  phases: (process.env.BENCH_PHASES ? process.env.BENCH_PHASES.split(',') : [...PHASES]) as Phase[],
  /** Wall-time allotment of each ladder, in units of BENCH_SECONDS (a ladder stops climbing past it). */
  allotments: { temporal: 4, signal: 3, orders: 5, pooled: 3 },
};
for (const p of config.phases) if (!PHASES.includes(p)) throw new Error(`BENCH_PHASES: unknown phase "${p}"`);
const wants = (p: Phase) => config.phases.includes(p);

const results: Results = {
  stamp,
  startedAt: started.toISOString(),
  config,
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  },
  stack: {},
  baselines: {},
  system: {},
  ratios: [],
  notes: [],
};

let stack: Stack | undefined;
let load: LoadGenerator | undefined;
let baseline: BaselineServer | undefined;
let stopping = false;

let tornDown: Promise<void> | undefined;
/** Stops everything this run started, once (a signal and the end of main both ask for it). */
function teardown(): Promise<void> {
  tornDown ??= (async () => {
    await baseline?.app.close().catch(() => undefined);
    await load?.stop().catch(() => undefined);
    await stack?.stop();
  })();
  return tornDown;
}

// Ctrl-C: stop the load, let main() wind down (every phase checks `stopping`), then tear down and
// exit from main's `finally`, so that the bench database is always dropped.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping everything and dropping the bench database`);
    const force = setTimeout(() => process.exit(130), 60_000);
    force.unref();
    void load?.stop().catch(() => undefined);
  });
}

/** Runs a phase; a failure is recorded and the run goes on with the next phase. */
async function phase<T>(name: string, work: () => Promise<T>): Promise<T | undefined> {
  if (stopping) return undefined;
  try {
    return await work();
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    log(`${name} failed: ${message}`);
    results.notes.push(`${name} failed: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

async function main(): Promise<void> {
  log(
    `BENCH_SECONDS=${seconds} (ladder steps of ${config.stepSeconds} s), p99 budget ${config.p99BudgetMs} ms`,
  );
  stack = await startStack({
    stamp,
    workerOptions: config.workerOptions,
    baselineWorkerOptions: config.baselineWorkerOptions,
    temporalFlags: config.temporalFlags,
    temporalDbFile: config.temporalDbFile,
    log,
  });
  if (stopping) return;
  const { rows } = await stack.pool.query<{ server_version: string }>('show server_version');
  results.stack = {
    postgres: {
      source: stack.postgres.source,
      local: stack.postgres.local,
      database: stack.database,
      serverVersion: rows[0]?.server_version,
    },
    temporal: {
      version: stack.temporal.version,
      storage: stack.temporal.storage,
      pid: stack.temporal.pid,
      argv: stack.temporal.argv,
      flags: stack.temporal.argv.slice(1),
    },
    forcedEnv: FORCED_ENV,
    service: {
      DATABASE_POOL_SIZE: stack.env.DATABASE_POOL_SIZE,
      AGGREGATION_THRESHOLD_CENTS: String(stack.env.AGGREGATION_THRESHOLD),
      AGGREGATION_MAX_WAIT_MS: stack.env.AGGREGATION_MAX_WAIT,
      taskQueue: stack.env.TEMPORAL_TASK_QUEUE,
      workerOptions: config.workerOptions,
    },
    baselineWorkerOptions: config.baselineWorkerOptions,
  };
  load = await LoadGenerator.start();
  baseline = await startBaselineServer(stack);
  if (stopping) return;
  log(`stack ready: API ${stack.api.origin}, baselines ${baseline.origin}, load generator pid ${load.pid}`);
  results.notes.push(
    `the service runs with ${Object.entries(FORCED_ENV)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}: rate limits and fraud rules would refuse or hold a load test's orders`,
    'open loop: requests leave on a fixed schedule whatever the answers; latency counts from the scheduled time',
    'B-temporal and B-signal go through a bare Fastify route in the bench process, as orders go through the API',
  );

  const pids: CpuPids = { temporal: stack.temporal.pid, loadgen: load.pid };
  if (stack.postgres.local) {
    const backends = await stack.pool.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = current_database()',
    );
    pids.postmaster = backends.rows.map((r) => parentOf(r.pid)).find((p) => p !== undefined && p > 1);
  }
  const cores = cpus().length;
  const ctx: BenchContext = {
    stack,
    load,
    async measure(work) {
      const before = snapshot(pids);
      const result = await work();
      return { result, cpu: cpuBetween(before, snapshot(pids), cores, pids.postmaster !== undefined) };
    },
    stamp,
    criteria: { p99BudgetMs: config.p99BudgetMs, minSuccess: 0.99, minThroughput: 0.95 },
    stepSeconds: config.stepSeconds,
    log,
    ladder(allotted, shape) {
      const begin = performance.now();
      return {
        ...shape,
        factor: 2,
        maxSteps: 8,
        retryAbove: 0.9,
        outOfTime: () => stopping || performance.now() - begin > allotted * 1000,
        log,
      };
    },
  };
  const server = baseline;

  if (wants('http')) results.baselines.http = await phase('B-http', () => benchHttp(ctx, server, seconds));
  if (wants('db'))
    results.baselines.db = await phase('B-db', () => benchDb(ctx, Math.max(2, Math.round(seconds / 2))));
  if (wants('temporal'))
    results.baselines.temporal = await phase('B-temporal', () =>
      benchTemporal(ctx, server, config.allotments.temporal * seconds),
    );
  if (wants('signal'))
    results.baselines.signal = await phase('B-signal', () =>
      benchSignal(ctx, server, config.allotments.signal * seconds),
    );

  if (wants('orders') || wants('pooled')) {
    const users = await phase('users', async () => {
      const created = await createUsers(ctx, config.users, '100000.00');
      log(`${created.length} funded users ($100,000.00 each) with signed access tokens`);
      return created;
    });
    if (users) {
      const memory = sampleMemory(ctx);
      if (wants('orders'))
        results.system.orders = await phase('System orders', () =>
          benchOrders(ctx, users, config.allotments.orders * seconds),
        );
      if (wants('pooled'))
        results.system.pooled = await phase('System pooled', () =>
          benchPooled(ctx, users, config.allotments.pooled * seconds),
        );
      results.system.memory = await memory.stop();
    }
  }

  // The placement p99 ratio compares p99s at the same offered rate: measure B-temporal there if needed.
  const best = results.system.orders?.best;
  if (best && wants('temporal') && !temporalAt(results, best.rate)) {
    results.baselines.temporalAtSystemRate = await phase('B-temporal re-run', async () => {
      const { result, cpu } = await ctx.measure(() =>
        ctx.load.openLoop({
          origin: server.origin,
          rate: best.rate,
          seconds: config.stepSeconds,
          specs: [{ method: 'POST', path: `/noop/${stamp}-rerun-{n}` }],
          timeoutMs: 30_000,
        }),
      );
      const step = { ...judge(result, 200, ctx.criteria), cpu };
      log(`B-temporal again @ ${best.rate}/s (the system's best rate): p99 ${step.latency.p99} ms`);
      return step;
    });
  }
}

let failure: unknown;
try {
  await main();
} catch (error) {
  failure = error;
  results.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
  log(`bench failed: ${results.error}`);
} finally {
  if (stopping) {
    await teardown().catch((error: unknown) => log(`teardown failed: ${String(error)}`));
    log('stopped before the end: no results written');
  } else {
    results.machine.loadAverageAtEnd = loadavg().map((l) => Number(l.toFixed(2)));
    results.ratios = computeRatios(results);
    if (stack?.sdkWarnings.size) results.stack.sdkWarnings = Object.fromEntries(stack.sdkWarnings);
    results.finishedAt = new Date().toISOString();
    results.durationSeconds = Math.round((performance.now() - t0) / 1000);
    log('stopping the stack');
    await teardown().catch((error: unknown) => log(`teardown failed: ${String(error)}`));
    process.stdout.write(`\n${render(results)}\n\n`);
    const file = await writeResults(resultsDir, results);
    log(`wrote ${file} (${results.durationSeconds} s)`);
  }
}
process.exit(stopping ? 130 : failure ? 1 : 0);
