/**
 * `make bench`: starts the whole stack in this process (see bench/stack.ts), measures the baselines
 * and then the system back to back, prints a table of figures and ratios, and writes
 * bench/results/<timestamp>.json. See bench/README.md for what each figure means and the knobs.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { WorkerOptions } from '@temporalio/worker';
import { formatUsd } from '../src/domain/money.js';
import {
  benchDb,
  benchHttp,
  signalStep,
  startBaselineServer,
  temporalStep,
  type BaselineServer,
  type BenchContext,
} from './baselines.js';
import { Bisector, POOLED_LADDER_FACTOR, type BisectOptions } from './ladder.js';
import { LoadGenerator } from './load.js';
import { inFlightMemory, leakCheck } from './memory.js';
import { exchangeRoundTrip, poolDirectStep, poolTaskQueue } from './pool.js';
import { shardSweep } from './pool-shards.js';
import { computeRatios, flatFigures, poolCeiling, render, writeResults, type Results } from './report.js';
import { FORCED_ENV, startStack, temporalOptionsFromEnv, type Stack } from './stack.js';
import { measurer, stackPids } from './cpu.js';
import { interleave, logStep, summarizeLadder, type StepResult } from './stats.js';
import {
  createUsers,
  orderStep,
  ORDER_AMOUNT,
  POOLED_MAY_WAIT,
  POOLED_ORDER_AMOUNT,
  sampleMemory,
  type BenchUser,
} from './system.js';

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

/** The $12 orders that warm the API and worker up before the orders' ladder: 480 orders. */
const WARM_ORDER_RATE = 24;
const WARM_ORDER_SECONDS = 20;

const PHASES = ['http', 'db', 'orders', 'pool', 'pooled', 'memory', 'shards', 'leak'] as const;
type Phase = (typeof PHASES)[number];
/** Everything but the five-minute leak check. */
const DEFAULT_PHASES: Phase[] = ['http', 'db', 'orders', 'pool', 'pooled', 'memory', 'shards'];

const seconds = number('BENCH_SECONDS', 10);
const config = {
  /** Length of one measurement (B-http, and pgbench's two runs together). */
  seconds,
  /** Length of one step of a rate ladder. */
  stepSeconds: Math.max(2, Math.round(seconds * 0.4)),
  p99BudgetMs: number('BENCH_P99_BUDGET_MS', 500),
  users: Math.round(number('BENCH_USERS', 2_000)),
  /** Results each deciding rate (best pass, first fail) needs; the median decides. */
  repeats: Math.round(number('BENCH_REPEATS', 3)),
  /** Bisection stops once the first fail is within this share of the best pass. */
  tolerance: number('BENCH_TOLERANCE', 0.05),
  leakSeconds: Math.round(number('BENCH_LEAK_SECONDS', 300)),
  workerOptions: json<Partial<WorkerOptions>>('BENCH_WORKER_OPTIONS', {}),
  baselineWorkerOptions: json<Partial<WorkerOptions>>('BENCH_BASELINE_WORKER_OPTIONS', {}),
  ...temporalOptionsFromEnv(),
  phases: (process.env.BENCH_PHASES ? process.env.BENCH_PHASES.split(',') : DEFAULT_PHASES) as Phase[],
  /** Wall-time allotment of each ladder group, in units of BENCH_SECONDS (it stops climbing past it). */
  allotments: { orders: 10, pool: 4, poolDirect: 1.5, pooled: 6 },
  /** How far the pool fed directly is searched: up to B-signal's best rate, or to its own ceiling. */
  poolDirectSearch: process.env.BENCH_POOL_DIRECT === 'ceiling' ? 'ceiling' : 'to B-signal',
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
  figures: {},
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
    temporalGogc: config.temporalGogc,
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
      gogc: stack.temporal.gogc,
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
  const pool = poolTaskQueue(stack);
  (results.stack.service as Record<string, unknown>).poolTaskQueue = pool;
  load = await LoadGenerator.start();
  baseline = await startBaselineServer(stack, {
    taskQueue: pool.taskQueue,
    threshold: formatUsd(stack.env.AGGREGATION_THRESHOLD),
    maxWaitMs: stack.env.AGGREGATION_MAX_WAIT,
  });
  if (stopping) return;
  log(
    `stack ready: API ${stack.api.origin}, baselines ${baseline.origin}, pools on ${pool.taskQueue} (${pool.why}), load generator pid ${load.pid}`,
  );
  results.notes.push(
    `the service runs with ${Object.entries(FORCED_ENV)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}: rate limits and fraud rules would refuse or hold a load test's orders`,
    'open loop: requests leave on a fixed schedule whatever the answers; latency counts from the scheduled time',
    'B-temporal and B-signal go through a bare Fastify route in the bench process, as orders go through the API',
    `ladders: doubling, then bisection to ${config.tolerance * 100} %; best pass and first fail run ${config.repeats}× and the majority decides; figures are medians [min–max] of the best rate's runs`,
  );

  const ctx: BenchContext = {
    stack,
    load,
    measure: measurer(await stackPids(stack, load.pid)),
    stamp,
    criteria: { p99BudgetMs: config.p99BudgetMs, minSuccess: 0.99, minThroughput: 0.95 },
    stepSeconds: config.stepSeconds,
    log,
  };
  const server = baseline;
  const step = config.stepSeconds;
  const bisector = (start: number, max: number, factor = 2) =>
    new Bisector({
      start,
      factor,
      max,
      min: 1,
      tolerance: config.tolerance,
      repeats: config.repeats,
      maxShifts: 2,
    } satisfies BisectOptions);
  // A ladder group searches for its allotment, then only repeats its deciding steps, for at most
  // 40 % longer.
  const deadline = (allotment: number) => {
    const begin = performance.now();
    const past = (share: number) => () =>
      stopping || performance.now() - begin > share * allotment * seconds * 1000;
    return { concludeNow: past(1), stopNow: past(1.4) };
  };
  let tag = 0;

  if (wants('http'))
    results.baselines.http = await phase('B-http', () => benchHttp(ctx, server, Math.ceil(seconds / 2)));
  if (wants('db'))
    results.baselines.db = await phase('B-db', () => benchDb(ctx, Math.max(2, Math.round(seconds / 4))));

  let users: BenchUser[] | undefined;
  if (wants('orders') || wants('pool') || wants('pooled') || wants('memory') || wants('leak')) {
    users = await phase('users', async () => {
      const created = await createUsers(ctx, config.users, '100000.00');
      log(`${created.length} funded users ($100,000.00 each) with signed access tokens`);
      return created;
    });
  }
  const memory = users ? sampleMemory(ctx) : undefined;

  if (wants('orders') && users) {
    const u = users;
    await phase('B-temporal and orders', async () => {
      // Warm-up: bundle caches, connections, JIT.
      // A first step at a cold worker and API fails below what they sustain once warm.
      await temporalStep(ctx, server, 10, 4, 'warm');
      // An order runs far more code than the bare workflow (API, ORM, driver, exchange client), and
      // V8 takes several hundred orders to optimise it: the first 300 after a short warm-up cost
      // about a quarter more CPU than later ones (bench/README, "Warm before measured"). The orders
      // are measured warm, as a service that has been up for a while runs.
      await orderStep(ctx, u, WARM_ORDER_RATE, ORDER_AMOUNT, 0, WARM_ORDER_SECONDS);
      const orders = bisector(16, 1_000);
      const bare = bisector(16, 2_000);
      const beside: StepResult[] = [];
      const [temporal, system] = await interleave<StepResult>(
        [
          {
            name: 'B-temporal',
            bisector: bare,
            run: (rate) => temporalStep(ctx, server, rate, step, `t${++tag}`),
          },
          {
            name: 'System orders',
            bisector: orders,
            run: async (rate, repeat) => {
              // The best pass's repeats (not the first failure's) get a B-temporal step at the same
              // rate right before them: the placement p99 ratio compares the two at the system's
              // best rate.
              if (repeat && rate !== orders.hi) {
                const t = await temporalStep(ctx, server, rate, step, `t${++tag}`);
                beside.push(t);
                logStep(log, 'B-temporal beside orders', t);
              }
              return orderStep(ctx, u, rate, ORDER_AMOUNT, 0, step);
            },
          },
        ],
        deadline(config.allotments.orders),
        log,
      );
      results.system.orders = system as typeof results.system.orders;
      const best = system?.bestRate;
      if (
        best !== undefined &&
        !beside.some((s) => s.rate === best) &&
        !temporal?.steps.some((s) => s.rate === best)
      )
        beside.push(await temporalStep(ctx, server, best, step, `t${++tag}`));
      // The B-temporal steps beside the orders are B-temporal runs too: when its own best pass failed
      // its repeats while time ran out, one of them may hold at a rate between its bracket and the
      // pass it would fall back on (run 20261130T231252Z: 45/s failed, the figure fell to 32/s, and
      // B-temporal beside the orders passed at 38/s).
      for (const s of beside) bare.addResult(s.rate, s.pass);
      results.baselines.temporal = temporal && summarizeLadder(temporal.steps, bare, beside);
      results.baselines.temporalAtSystemRate = beside;
    });
  }

  if (wants('pool') && users) {
    const userId = users[0]!.id;
    await phase('B-signal and pool-direct', async () => {
      await signalStep(ctx, server, 20, 2, 'warm');
      await poolDirectStep(ctx, server, userId, 20, 2, 'warm');
      const signalLadder = {
        name: 'B-signal',
        bisector: bisector(256, 10_000),
        run: (rate: number) => signalStep(ctx, server, rate, step, `s${++tag}`),
      };
      const directLadder = (b: Bisector) => ({
        name: 'Pool direct',
        bisector: b,
        run: (rate: number) => poolDirectStep(ctx, server, userId, rate, step, `p${++tag}`),
      });
      const [signal, direct] =
        config.poolDirectSearch === 'ceiling'
          ? // The pool's own ceiling, searched in turn with B-signal: fed through the feed it lies at
            // several times B-signal's, where a doubling step decides the figure (bench/README).
            await interleave<StepResult>(
              [signalLadder, directLadder(bisector(256, 10_000))],
              deadline(config.allotments.pool),
              log,
            )
          : await signalThenDirect();
      results.baselines.signal = signal as typeof results.baselines.signal;
      results.system.poolDirect = direct as typeof results.system.poolDirect;

      // Target 4 asks whether the pool absorbs 0.8 × B-signal: the pool is run at B-signal's best
      // rate (and below it only if it fails there), so the ratio reads at most 1 and holds still.
      async function signalThenDirect() {
        const [found] = await interleave<StepResult>([signalLadder], deadline(config.allotments.pool), log);
        const best = found?.bestRate;
        if (best === undefined) return [found];
        const [atBest] = await interleave<StepResult>(
          [directLadder(bisector(best, best, POOLED_LADDER_FACTOR))],
          deadline(config.allotments.poolDirect),
          log,
        );
        return [found, atBest];
      }
    });
  }

  const bestOrders = results.system.orders?.bestRate;
  if (wants('pooled') && users) {
    const u = users;
    await phase('System pooled', async () => {
      await orderStep(ctx, u, 5, POOLED_ORDER_AMOUNT, POOLED_MAY_WAIT, 2);
      // A pooled order costs more than a $12 order (its settlement is a signal and a workflow task
      // more, and its pool's share of a batch), so its knee is below theirs: the search starts at
      // 0.65 × their best rate, a pass to fall back on, and moves by a quarter (bench/README, "The
      // pooled ladder starts near its knee"; 0.8 until a $12 order became one local activity). $12 orders are searched again in
      // turn with it, from the same start (their best rate may not pass again), so that both meet the
      // same Temporal: its dev server slows as the run fills it (bench/README, "Pooled orders beside
      // $12 orders").
      const start = bestOrders ? Math.max(5, Math.round(bestOrders * 0.65)) : 10;
      const [pooled, orders] = await interleave(
        [
          {
            name: 'System pooled',
            bisector: bisector(start, 1_000, POOLED_LADDER_FACTOR),
            run: (rate) => orderStep(ctx, u, rate, POOLED_ORDER_AMOUNT, POOLED_MAY_WAIT, step),
          },
          {
            name: 'System orders (beside pooled)',
            bisector: bisector(start, 1_000, POOLED_LADDER_FACTOR),
            run: (rate) => orderStep(ctx, u, rate, ORDER_AMOUNT, 0, step),
          },
        ],
        deadline(config.allotments.pooled),
        log,
      );
      results.system.ordersBesidePooled = orders;
      results.system.pooled = pooled;
      results.system.exchangeRoundTrip = await exchangeRoundTrip(stack!);
    });
  }

  if (wants('memory') && users) {
    const u = users;
    // Below the best pooled rate, so that every order is placed (memory, not saturation, is what
    // is measured here), and near it, so that 500 orders take under a minute.
    const rate = Math.max(5, Math.round((results.system.pooled?.bestRate ?? 20) * 0.8));
    results.system.inFlight = await phase('in-flight memory', async () => {
      const m = await inFlightMemory(ctx, u, rate, 500);
      log(
        `in flight: ${m.inFlight} orders, API+worker ${m.appPer1000MiB} MiB and Temporal ${m.temporalPer1000MiB} MiB per 1,000`,
      );
      return m;
    });
  }
  if (wants('leak') && users) {
    const u = users;
    const rate = bestOrders ?? number('BENCH_LEAK_RATE', 20);
    results.system.leak = await phase('leak check', () => leakCheck(ctx, u, rate, config.leakSeconds));
  }
  if (memory) results.system.memory = await memory.stop();

  if (wants('shards')) {
    const found = poolCeiling(results);
    results.system.shards = shardSweep({
      ceiling: found?.ceiling ?? 400,
      ceilingSource: found?.source ?? 'assumed (no pool-direct or B-signal figure in this run)',
      thresholdCents: Number(stack.env.AGGREGATION_THRESHOLD),
      maxWaitMs: stack.env.AGGREGATION_MAX_WAIT,
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
    results.figures = flatFigures(results);
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
