/**
 * `npm run bench:probe`: fixed-rate steps, no search, to see where the CPU of one kind of work goes.
 * BENCH_PROBE lists the steps as kind@rate (kinds: orders, pooled, temporal, signal, direct), e.g.
 * `BENCH_PROBE=temporal@20,orders@20 BENCH_PROBE_SECONDS=8 npm run bench:probe`. Each step prints its
 * rate, latency and CPU ms per operation: the Temporal server, Postgres, and this process by thread
 * kind (main, workflow threads, V8 helpers, Temporal core, libuv pool). BENCH_PROBE_PROFILE=dir writes a
 * CPU profile of this process's main thread for each step (`<kind>@<rate>.cpuprofile`, for Chrome's
 * DevTools or `npx speedscope`).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { formatUsd } from '../src/domain/money.js';
import { signalStep, startBaselineServer, temporalStep, type BenchContext } from './baselines.js';
import { measurer, stackPids } from './cpu.js';
import { LoadGenerator } from './load.js';
import { poolDirectStep, poolTaskQueue } from './pool.js';
import { startStack, temporalOptionsFromEnv } from './stack.js';
import type { StepResult } from './stats.js';
import { createUsers, orderStep, ORDER_AMOUNT, POOLED_MAY_WAIT, POOLED_ORDER_AMOUNT } from './system.js';

const KINDS = ['orders', 'pooled', 'temporal', 'signal', 'direct'] as const;
type Kind = (typeof KINDS)[number];

const steps = (process.env.BENCH_PROBE ?? 'temporal@20,orders@20').split(',').map((text) => {
  const [kind, rate] = text.trim().split('@');
  if (!KINDS.includes(kind as Kind) || !(Number(rate) > 0))
    throw new Error(`BENCH_PROBE: "${text}" is not kind@rate with kind one of ${KINDS.join(', ')}`);
  return { kind: kind as Kind, rate: Number(rate) };
});
const seconds = Number(process.env.BENCH_PROBE_SECONDS ?? 8);
const log = (line: string) => console.log(line);

const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
const stack = await startStack({
  stamp: `probe${stamp}`,
  workerOptions: {},
  baselineWorkerOptions: {},
  ...temporalOptionsFromEnv(),
  log,
});
const load = await LoadGenerator.start();
const pool = poolTaskQueue(stack);
const server = await startBaselineServer(stack, {
  taskQueue: pool.taskQueue,
  threshold: formatUsd(stack.env.AGGREGATION_THRESHOLD),
  maxWaitMs: stack.env.AGGREGATION_MAX_WAIT,
});
try {
  const ctx: BenchContext = {
    stack,
    load,
    measure: measurer(await stackPids(stack, load.pid)),
    stamp,
    criteria: { p99BudgetMs: 500, minSuccess: 0.99, minThroughput: 0.95 },
    stepSeconds: seconds,
    log,
  };
  const users = await createUsers(ctx, 2000, '100000.00');
  let tag = 0;
  const run = (kind: Kind, rate: number, secs: number): Promise<StepResult> => {
    switch (kind) {
      case 'orders':
        return orderStep(ctx, users, rate, ORDER_AMOUNT, 0, secs);
      case 'pooled':
        return orderStep(ctx, users, rate, POOLED_ORDER_AMOUNT, POOLED_MAY_WAIT, secs);
      case 'temporal':
        return temporalStep(ctx, server, rate, secs, `p${++tag}`);
      case 'signal':
        return signalStep(ctx, server, rate, secs, `p${++tag}`);
      case 'direct':
        return poolDirectStep(ctx, server, users[0]!.id, rate, secs, `p${++tag}`);
    }
  };
  // Warm-up: bundles, connections, JIT.
  for (const kind of new Set(steps.map((s) => s.kind))) await run(kind, 10, 3);
  const profileDir = process.env.BENCH_PROBE_PROFILE;
  const profiler = profileDir ? new Session() : undefined;
  if (profiler) {
    await mkdir(profileDir!, { recursive: true });
    profiler.connect();
    await profiler.post('Profiler.enable');
  }
  for (const { kind, rate } of steps) {
    await profiler?.post('Profiler.start');
    const step = await run(kind, rate, seconds);
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      await writeFile(join(profileDir!, `${kind}@${rate}.cpuprofile`), JSON.stringify(profile));
    }
    const per = (pct: number | null) =>
      pct === null ? 'n/a' : ((pct * 10) / Math.max(step.throughput, 0.1)).toFixed(1);
    const threads = Object.entries(step.cpu?.threads ?? {})
      .sort(([, a], [, b]) => b - a)
      .map(([name, pct]) => `${name} ${per(pct)}`)
      .join(', ');
    log(
      `${kind}@${rate}/s: ${step.throughput}/s, p50 ${step.latency.p50} ms, p99 ${step.latency.p99} ms${step.pass ? '' : ` ✗ ${step.why}`}\n` +
        `  CPU ms/op: Temporal ${per(step.cpu?.temporal ?? null)}, Postgres ${per(step.cpu?.postgres ?? null)}, ` +
        `this process ${per(step.cpu?.bench ?? null)} (${threads})`,
    );
  }
  // Leaves the stack up for a look at the workflows (temporal workflow list/show) before stopping it.
  const keep = Number(process.env.BENCH_PROBE_KEEP ?? 0);
  if (keep > 0) {
    log(`keeping the stack up for ${keep} s: temporal --address ${stack.env.TEMPORAL_ADDRESS}`);
    await new Promise((r) => setTimeout(r, keep * 1000));
  }
} finally {
  await server.app.close().catch(() => undefined);
  await load.stop().catch(() => undefined);
  await stack.stop();
}
