/**
 * `make chaos`: minutes of load on a stack of real processes while every fault is injected in turn:
 * worker `kill -9` (several times), Temporal dev server restart, Postgres restart, exchange 20%
 * errors and 20% dropped responses (bought, answer lost). Then every order must settle and every
 * invariant hold (test/chaos/invariants.ts). Prints a summary; exits 1 on any violation.
 *
 * Knobs: CHAOS_SECONDS (default 240) of load, CHAOS_RATE orders/s (default 3), CHAOS_SEED,
 * CHAOS_KEEP=1 keeps .data/chaos-<pid> even when everything holds, CHAOS_VERBOSE=1 echoes the
 * worker's and the API's output, CHAOS_OUTAGE_SECONDS=N adds an exchange outage (drops, then N s
 * of errors: longer than the buy retries when N > 95) as the first fault of the cycle.
 *
 * CHAOS_PROCESSES=N (default 1) runs N workers and N APIs on the one Temporal and Postgres, the
 * rate limits on and counted in Redis (CHAOS_REDIS_URL, default redis://127.0.0.1:6379), the orders
 * round robin over the APIs; each worker kill then takes one worker of N down for at least 15 s (the
 * others must take over), the cycle also restarts an API (SIGTERM, started again on its port), and
 * no order in flight at a kill or restart may wait much longer than it lasted (test/chaos/outages.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startChaosStack, type ChaosStack } from '../test/chaos/harness.js';
import { checkOutages, outageSlackMs } from '../test/chaos/outages.js';
import { LoadGenerator } from '../test/chaos/load.js';
import {
  checkInvariants,
  formatResults,
  tally,
  waitForSettled,
  type InvariantResult,
} from '../test/chaos/invariants.js';

const seconds = Number(process.env.CHAOS_SECONDS ?? 240);
const rate = Number(process.env.CHAOS_RATE ?? 3);
const seed = Number(process.env.CHAOS_SEED ?? 1);
const keep = process.env.CHAOS_KEEP === '1';
const verbose = process.env.CHAOS_VERBOSE === '1';
/** Opt-in: an exchange outage longer than the buy activity's retries (≈ 91 s), right after a burst of drops. */
const outageSeconds = Number(process.env.CHAOS_OUTAGE_SECONDS ?? 0);
const processes = Number(process.env.CHAOS_PROCESSES ?? 1);
const redisUrl = process.env.CHAOS_REDIS_URL ?? 'redis://127.0.0.1:6379';
if (!(seconds > 0) || !(rate > 0)) throw new Error('CHAOS_SECONDS and CHAOS_RATE must be positive numbers');
if (!Number.isInteger(processes) || processes < 1)
  throw new Error('CHAOS_PROCESSES must be a whole number ≥ 1');

const began = Date.now();
const say = (line: string) =>
  process.stdout.write(`[chaos ${((Date.now() - began) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);

let stack: ChaosStack | undefined;
let load: LoadGenerator | undefined;
let interrupted = false;

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    say(`${signal}: stopping (the data directory is kept)`);
    void (async () => {
      await stack?.teardown(true);
      process.exit(130);
    })();
  });
}

interface Fault {
  name: string;
  run: (s: ChaosStack) => Promise<void>;
}

let kills = 0;
let apiRestarts = 0;
/** One worker (in turn) down; with several, long enough for the others to take its workflows over. */
const killWorker = (downMs: number) => async (s: ChaosStack) => {
  const index = kills++ % processes;
  await s.killWorker(index);
  await sleep(processes > 1 ? Math.max(downMs, 15_000) : downMs);
  await s.startWorker(index);
};
const restartApi: Fault = {
  name: 'API restart (SIGTERM)',
  run: (s) => s.restartApi(apiRestarts++ % processes, 1_000),
};

/** One cycle of faults; the run repeats it for as long as CHAOS_SECONDS lasts. */
const CYCLE: Fault[] = [
  { name: 'worker kill -9', run: killWorker(2_000) },
  { name: 'exchange: 20% errors', run: (s) => s.setExchangeFaults({ failure_rate: 0.2 }) },
  {
    name: 'exchange healthy; Temporal restart',
    run: async (s) => {
      await s.setExchangeFaults({ failure_rate: 0 });
      await s.restartTemporal();
    },
  },
  { name: 'worker kill -9', run: killWorker(5_000) },
  { name: 'exchange: 20% dropped responses', run: (s) => s.setExchangeFaults({ drop_rate: 0.2 }) },
  {
    name: 'exchange healthy; Postgres restart',
    run: async (s) => {
      await s.setExchangeFaults({ drop_rate: 0 });
      await s.restartPostgres(2_000);
    },
  },
  {
    name: 'worker kill -9 under exchange errors and drops',
    run: async (s) => {
      await s.setExchangeFaults({ failure_rate: 0.2, drop_rate: 0.2 });
      await killWorker(3_000)(s);
    },
  },
  { name: 'exchange healthy', run: (s) => s.setExchangeFaults({ failure_rate: 0, drop_rate: 0 }) },
];
if (processes > 1) {
  CYCLE.splice(1, 0, restartApi);
  CYCLE.push(restartApi);
}
if (outageSeconds > 0) {
  CYCLE.unshift({
    name: `exchange outage: 5 s of 100% dropped responses, then ${outageSeconds} s of 100% errors`,
    run: async (s) => {
      await s.setExchangeFaults({ failure_rate: 0, drop_rate: 1 });
      await sleep(5_000);
      await s.setExchangeFaults({ failure_rate: 1, drop_rate: 0 });
      await sleep(outageSeconds * 1_000);
      await s.setExchangeFaults({ failure_rate: 0 });
    },
  });
}

async function main(): Promise<number> {
  say(
    `starting the stack (${seconds} s of load at ${rate} orders/s, seed ${seed}` +
      `${processes > 1 ? `, ${processes} workers and ${processes} APIs` : ''})`,
  );
  stack = await startChaosStack({
    workers: processes,
    apis: processes,
    ...(processes > 1 && {
      redisUrl,
      // Counted in Redis by every API, but high enough that the load's own retries (every answer
      // held up by a fault is retried, and each try counts) do not end in 429s that outlast the run.
      env: { RATE_LIMIT_ORDERS_USER: '10000/1m', RATE_LIMIT_USER: '1000000/1h' },
    }),
    aggregationMaxWait: '20s',
    log: (line) => process.stdout.write(`${line}\n`),
    childLine: verbose ? (child, line) => process.stdout.write(`  [${child}] ${line}\n`) : undefined,
    supervise: true,
  });
  const s = stack;
  const users = 16;
  // Enough for the expected spend (≈ $6.5 an order) with room to spare; two poor users get refusals.
  const deposit = Math.max(300, Math.ceil((rate * seconds * 8) / users));
  load = new LoadGenerator({
    apiUrl: s.apiUrls,
    users,
    poorUsers: 2,
    deposit: `${deposit}.00`,
    ratePerSecond: rate,
    runId: `${process.pid}`,
    seed,
  });
  await load.fund();
  say(`${users + 2} users funded; load starts`);

  const loadStart = Date.now();
  const end = loadStart + seconds * 1_000;
  const step = Math.max(15_000, (seconds * 1_000) / (CYCLE.length + 1));
  load.start();
  const injected: string[] = [];
  // A fault that outlasts its step (a slow restart on a busy machine) pushes the next one back, so
  // that every fault, an exchange phase too, lasts a while before the next begins.
  let previousEnd = loadStart;
  for (let i = 0; ; i++) {
    const at = Math.max(loadStart + (i + 1) * step, previousEnd + 10_000);
    if (at >= end) break;
    await sleep(Math.max(0, at - Date.now()));
    if (interrupted) return 130;
    const fault = CYCLE[i % CYCLE.length]!;
    say(`fault: ${fault.name} (${load.stats().logical} orders so far, ${load.inFlightCount()} in flight)`);
    try {
      await fault.run(s);
      injected.push(fault.name);
    } catch (error) {
      say(`fault "${fault.name}" could not be injected: ${String(error)}`);
      injected.push(`${fault.name} (FAILED to inject)`);
    }
    previousEnd = Date.now();
  }
  await sleep(Math.max(0, end - Date.now()));
  await s.setExchangeFaults({ failure_rate: 0, drop_rate: 0, latency_ms: 0 });
  say(`load stops; waiting for ${load.inFlightCount()} logical orders in flight`);
  await load.stop();

  say('waiting for every order to settle');
  const settle = await waitForSettled(s, { timeoutMs: 180_000 });
  say(settle.settled ? `settled in ${(settle.waitedMs / 1000).toFixed(1)} s` : 'NOT settled');
  const results: InvariantResult[] = await checkInvariants(s, { settle, load: load.orders });
  const stats = load.stats();
  results.push({
    name: 'every logical order answered',
    ok: stats.unresolved === 0 && stats.inFlight === 0,
    checked: stats.logical,
    violations: load.orders
      .filter((o) => o.outcome === 'unresolved' || o.outcome === 'in-flight')
      .map((o) => `${o.key}: ${o.outcome} after ${o.attempts} attempts (${o.retried.slice(-5).join(', ')})`),
  });
  results.push({
    name: 'no service exited on its own',
    ok: s.crashes.length === 0,
    checked: s.faults.filter((f) => f.kind === 'worker-start' || f.kind === 'api-start').length + processes,
    violations: s.crashes.map(
      (c) =>
        `${c.child} at ${(c.at / 1000).toFixed(1)} s (${c.exit.signal ?? `code ${c.exit.code}`}): ${c.tail.slice(-8).join(' | ')}`,
    ),
  });
  // With one worker nothing can take over while it is down, and the exchange faults around its
  // kills make its waits no measure of the kill; the check belongs to the several-process mode.
  const outages =
    processes > 1
      ? await checkOutages(s, {
          load: load.orders,
          slackMs: outageSlackMs(s.aggregationMaxWaitMs),
          workers: processes,
        })
      : undefined;
  if (outages) results.push(...outages.results);
  const state = await tally(s);
  const ok = results.every((r) => r.ok);

  const count = (kind: string) => s.faults.filter((f) => f.kind === kind).length;
  const phases = (field: 'failure_rate' | 'drop_rate') =>
    s.faults.filter(
      (f) =>
        f.kind === 'exchange-faults' && (JSON.parse(f.detail ?? '{}') as Record<string, number>)[field]! > 0,
    ).length;
  const faultCounts =
    `worker kill -9 ×${count('worker-kill')}, Temporal restart ×${count('temporal-restart')}, ` +
    `Postgres restart ×${count('postgres-restart')}, exchange error phases ×${phases('failure_rate')}, ` +
    `exchange drop phases ×${phases('drop_rate')}, API restart ×${count('api-stop')}`;
  const lines = [
    '',
    '================ chaos summary ================',
    `load:        ${seconds} s at ${rate} orders/s (seed ${seed}), ${users + 2} users, ${processes} API(s) answering ${JSON.stringify(stats.byApi)}`,
    `orders:      ${stats.logical} logical → ${stats.placed} placed (201), ${stats.refused} refused ${JSON.stringify(stats.refusals)}, ${stats.unresolved} unresolved`,
    `retries:     ${stats.retriedOrders} logical orders retried by the client: ${JSON.stringify(stats.retries)}`,
    `states:      ${JSON.stringify(state.orders)}`,
    `batches:     ${JSON.stringify(state.batches)}; exchange fills: ${state.fills}`,
    `faults:      ${injected.length} injected: ${injected.join('; ')}`,
    `             ${faultCounts}`,
    ...(outages ? [`outages:     ${outages.summary.join('; ')}`] : []),
    `settling:    ${settle.settled ? `settled after ${(settle.waitedMs / 1000).toFixed(1)} s` : `NOT settled after ${(settle.waitedMs / 1000).toFixed(1)} s`}${settle.pooled.length ? `, ${settle.pooled.length} legitimately pooled` : ''}`,
    'invariants:',
    formatResults(results)
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
    `result:      ${ok ? 'PASS' : 'FAIL'} (${((Date.now() - began) / 1000).toFixed(0)} s in all)`,
    '===============================================',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  const report = {
    seconds,
    rate,
    seed,
    ok,
    stats,
    state,
    faults: s.faults,
    injected,
    settle,
    results,
    crashes: s.crashes,
  };
  const reportDir = resolve(import.meta.dirname, '..', '.data');
  await mkdir(reportDir, { recursive: true });
  await writeFile(join(reportDir, 'chaos-report.json'), JSON.stringify(report, null, 2));
  say(`report written to .data/chaos-report.json`);
  await s.teardown(!ok || keep);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    say(`chaos run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await stack?.teardown(true);
    process.exit(2);
  },
);
