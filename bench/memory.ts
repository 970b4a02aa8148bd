/**
 * Memory per in-flight order, and the optional leak check.
 *
 * In flight: the exchange simulator is told to answer every buy only after a delay (held-back
 * settlement, below the driver's timeout so nothing retries), and $12 orders are placed meanwhile at
 * the best order rate (faster, the API's calls to Temporal time out and nothing more is in flight): each stays `pending` (debited, its workflow and buy open) until its buy
 * answers, or `placing` while the API has not had the debit's answer, so the number in flight climbs
 * to about rate × delay. The resident memory (VmRSS) of this process
 * (API + worker) and of the Temporal server at the most-in-flight moment, less the same just before,
 * divided by the orders in flight then, gives MiB per 1,000 in-flight orders.
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

function orderSpecs(users: BenchUser[], amount: string) {
  const body = JSON.stringify({ crypto: 'ABAN', amount });
  return users.map((user) => ({
    method: 'POST',
    path: '/api/v1/orders/',
    headers: { authorization: `Bearer ${user.token}` },
    body,
  }));
}

async function setExchangeLatency(ctx: BenchContext, ms: number): Promise<void> {
  const response = await fetch(`${ctx.stack.simulatorOrigin}/admin/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ latency_ms: ms }),
  });
  if (!response.ok) throw new Error(`simulator refused latency ${ms} ms: ${response.status}`);
}

async function pendingCount(ctx: BenchContext): Promise<number> {
  const { rows } = await ctx.stack.pool.query<{ n: string }>(
    `select (select count(*) from orders where state = 'pending')
          + (select count(*) from order_placements where state = 'placing') as n`,
  );
  return Number(rows[0]?.n ?? 0);
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

export async function inFlightMemory(
  ctx: BenchContext,
  users: BenchUser[],
  rate: number,
  seconds: number,
): Promise<InFlightMemory> {
  const holdMs = Math.max(1_000, Math.min(4_500, Math.round(ctx.stack.env.EXCHANGE_TIMEOUT * 0.8)));
  const temporalPid = ctx.stack.temporal.pid;
  global.gc?.();
  const before = { app: appRss(), temporal: vmRssMiB(temporalPid) };
  let peak = { inFlight: 0, app: before.app, temporal: before.temporal };
  await setExchangeLatency(ctx, holdMs);
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const inFlight = await pendingCount(ctx);
      if (inFlight >= peak.inFlight) peak = { inFlight, app: appRss(), temporal: vmRssMiB(temporalPid) };
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  try {
    await ctx.load.openLoop({
      origin: ctx.stack.api.origin,
      rate,
      seconds,
      specs: orderSpecs(users, '3'),
      timeoutMs: 30_000,
    });
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    sampling = false;
    await sampler;
    await setExchangeLatency(ctx, 0);
  }
  // Let the held orders settle before the next phase.
  for (let i = 0; i < 100 && (await pendingCount(ctx)) > 0; i++) await new Promise((r) => setTimeout(r, 200));
  const per1000 = (at: number | null | undefined, base: number | null | undefined) =>
    at == null || base == null || peak.inFlight === 0
      ? null
      : Number((((at - base) / peak.inFlight) * 1000).toFixed(1));
  const round = (v: number | null | undefined) => (v == null ? null : Math.round(v));
  return {
    method: `exchange answers after ${holdMs} ms; $12 orders at ${rate}/s for ${seconds} s; VmRSS at the most pending orders less VmRSS before`,
    rate,
    holdMs,
    inFlight: peak.inFlight,
    appBeforeMiB: Math.round(before.app),
    appAtPeakMiB: Math.round(peak.app),
    temporalBeforeMiB: round(before.temporal),
    temporalAtPeakMiB: round(peak.temporal),
    appPer1000MiB: per1000(peak.app, before.app),
    temporalPer1000MiB: per1000(peak.temporal, before.temporal),
  };
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
  const specs = orderSpecs(users, '3');
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
