/**
 * Memory per in-flight order, and the optional leak check.
 *
 * In flight: $2 orders for a crypto whose pool never fills (BENCHWAIT, below): each is debited, joins
 * the pool and stays `aggregated`, its workflow open, as a pooled order waits in production. The
 * resident memory (VmRSS) of this process (API + worker) and of the Temporal server once they all
 * wait, less the same just before (each after a garbage collection when `gc` is exposed), divided by
 * the orders waiting, gives MiB per 1,000 in-flight orders.
 *
 * Leak check (BENCH_PHASES=leak): $12 orders at a fixed rate for several minutes, VmRSS sampled every
 * 10 s; the least-squares slope (MiB per minute) says whether memory grows.
 */
import { readFileSync } from 'node:fs';
import type { BenchContext } from './baselines.js';
import { slope } from './ladder.js';
import type { BenchUser } from './system.js';

/** Current resident memory of a process (VmRSS, kB → MiB), or undefined. */
export function vmRssMiB(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const appRss = () => process.memoryUsage().rss / 2 ** 20;

/** One order request per user; `amounts` are taken in turn (user i orders `amounts[i mod n]`). */
function orderSpecs(users: BenchUser[], amounts: string[], crypto = 'ABAN') {
  const bodies = amounts.map((amount) => JSON.stringify({ crypto, amount }));
  return users.map((user, i) => ({
    method: 'POST',
    path: '/api/v1/orders/',
    headers: { authorization: `Bearer ${user.token}` },
    body: bodies[i % bodies.length]!,
  }));
}

export interface InFlightMemory {
  method: string;
  rate: number;
  holdMs: number;
  /** Orders pending at the moment of the most. */
  inFlight: number;
  appBeforeMiB: number;
  appAtPeakMiB: number;
  temporalBeforeMiB: number | null;
  temporalAtPeakMiB: number | null;
  /** (at peak − before) ÷ in flight × 1000. */
  appPer1000MiB: number | null;
  temporalPer1000MiB: number | null;
}

/** A crypto whose pool never fills during the bench: its orders stay in flight, waiting in it. */
const WAITING_CRYPTO = 'BENCHWAIT';

export async function inFlightMemory(
  ctx: BenchContext,
  users: BenchUser[],
  rate: number,
  count: number,
): Promise<InFlightMemory> {
  // Priced like ABAN, pinned (the price refresh leaves it alone), and with a market minimum no pool
  // reaches: every $2 order is debited, joins the pool and waits, its workflow open.
  await ctx.stack.pool.query(
    `insert into crypto_currencies (name, price, active, price_source, min_notional, updated_at)
     values ($1, 4.00, true, 'manual', 1000000000.00, now()) on conflict (name) do nothing`,
    [WAITING_CRYPTO],
  );
  const temporalPid = ctx.stack.temporal.pid;
  const waiting = () => aggregatedCount(ctx);
  const already = await waiting();
  global.gc?.();
  await new Promise((r) => setTimeout(r, 500));
  const before = { app: appRss(), temporal: vmRssMiB(temporalPid) };
  const seconds = Math.max(2, Math.round(count / rate));
  await ctx.load.openLoop({
    origin: ctx.stack.api.origin,
    rate,
    seconds,
    specs: orderSpecs(users, ['0.5'], WAITING_CRYPTO),
    timeoutMs: 30_000,
  });
  for (let i = 0; i < 50 && (await waiting()) - already < rate * seconds * 0.99; i++) {
    await new Promise((r) => setTimeout(r, 200));
  }
  global.gc?.();
  await new Promise((r) => setTimeout(r, 500));
  const inFlight = (await waiting()) - already;
  const after = { app: appRss(), temporal: vmRssMiB(temporalPid) };
  const per1000 = (at: number | null | undefined, base: number | null | undefined) =>
    at == null || base == null || inFlight === 0
      ? null
      : Number((((at - base) / inFlight) * 1000).toFixed(1));
  const round = (v: number | null | undefined) => (v == null ? null : Math.round(v));
  return {
    method: `${inFlight} $2 orders at ${rate}/s into a pool that never fills (they stay aggregated, workflows open); VmRSS after less VmRSS before`,
    rate,
    holdMs: 0,
    inFlight,
    appBeforeMiB: Math.round(before.app),
    appAtPeakMiB: Math.round(after.app),
    temporalBeforeMiB: round(before.temporal),
    temporalAtPeakMiB: round(after.temporal),
    appPer1000MiB: per1000(after.app, before.app),
    temporalPer1000MiB: per1000(after.temporal, before.temporal),
  };
}

async function aggregatedCount(ctx: BenchContext): Promise<number> {
  const { rows } = await ctx.stack.pool.query<{ n: string }>(
    `select count(*) as n from orders o join crypto_currencies c on c.id = o.crypto_id
      where c.name = $1 and o.state = 'aggregated'`,
    [WAITING_CRYPTO],
  );
  return Number(rows[0]?.n ?? 0);
}

export interface LeakCheck {
  rate: number;
  seconds: number;
  samples: { atSeconds: number; appMiB: number; temporalMiB: number | null }[];
  /** Least-squares slope of VmRSS over the run, MiB per minute (the first minute left out: warm-up). */
  appSlopeMiBPerMin: number | null;
  temporalSlopeMiBPerMin: number | null;
}

export async function leakCheck(
  ctx: BenchContext,
  users: BenchUser[],
  rate: number,
  seconds: number,
): Promise<LeakCheck> {
  const samples: LeakCheck['samples'] = [];
  const start = performance.now();
  const sample = () =>
    samples.push({
      atSeconds: Math.round((performance.now() - start) / 1000),
      appMiB: Math.round(appRss()),
      temporalMiB: Math.round(vmRssMiB(ctx.stack.temporal.pid) ?? 0) || null,
    });
  sample();
  // $12 orders bought alone and $2 orders through the pool feed, the settlement watch and the pool,
  // in turn: every path that keeps state in the process while an order is under way.
  const specs = orderSpecs(users, ['3', '0.5']);
  for (let chunk = 0; chunk * 10 < seconds; chunk++) {
    await ctx.load.openLoop({ origin: ctx.stack.api.origin, rate, seconds: 10, specs, timeoutMs: 30_000 });
    sample();
    ctx.log(`leak check ${samples.at(-1)!.atSeconds} s: app ${samples.at(-1)!.appMiB} MiB`);
  }
  const steady = samples.filter((s) => s.atSeconds >= 60);
  const perMinute = (values: { x: number; y: number }[]) => {
    const m = slope(values);
    return m === null ? null : Number((m * 60).toFixed(2));
  };
  return {
    rate,
    seconds,
    samples,
    appSlopeMiBPerMin: perMinute(steady.map((s) => ({ x: s.atSeconds, y: s.appMiB }))),
    temporalSlopeMiBPerMin: perMinute(
      steady.filter((s) => s.temporalMiB !== null).map((s) => ({ x: s.atSeconds, y: s.temporalMiB! })),
    ),
  };
}
