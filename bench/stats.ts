/** Latency summaries and the pass/fail rule every rate ladder uses. */
import type { CpuUse } from './cpu.js';

export interface LatencySummary {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const round = (v: number | null, digits = 1) => (v === null ? null : Number(v.toFixed(digits)));

export function summarize(values: number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : null;
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(percentile(sorted, 100)),
    mean: round(mean),
  };
}

/** One request of an open-loop run: when it was due, how long it took from then, how it ended. */
export interface Sample {
  /** Epoch ms at which the request was scheduled. */
  at: number;
  /** ms from the scheduled time to the full response (or to the failure). */
  latency: number;
  /** HTTP status, 0 for a transport error or timeout. */
  status: number;
  /** The `id` field of a JSON response, when asked for. */
  id?: number;
}

export interface OpenLoopResult {
  rate: number;
  seconds: number;
  samples: Sample[];
  /** p99 of (actual send time - scheduled time): the load generator's own lag. */
  sendLagP99: number | null;
}

export interface StepResult {
  /** Offered rate, requests/s. */
  rate: number;
  seconds: number;
  sent: number;
  ok: number;
  errors: number;
  /** Statuses other than the expected one, with counts. */
  statuses: Record<string, number>;
  /** Successful completions per second, over max(step, first schedule → last success). */
  throughput: number;
  latency: LatencySummary;
  sendLagP99: number | null;
  pass: boolean;
  why?: string;
  /** A second try of a rate whose first try failed on latency only. */
  retry?: boolean;
  /** CPU use of each part during the open-loop run. */
  cpu?: CpuUse;
  [extra: string]: unknown;
}

export interface Criteria {
  /** p99 latency budget, ms. */
  p99BudgetMs: number;
  /** Share of requests that must succeed. */
  minSuccess: number;
  /** Share of the offered rate that must complete. */
  minThroughput: number;
}

export function judge(result: OpenLoopResult, okStatus: number, criteria: Criteria): StepResult {
  const ok = result.samples.filter((s) => s.status === okStatus);
  const statuses: Record<string, number> = {};
  for (const s of result.samples) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
  const first = Math.min(...result.samples.map((s) => s.at));
  const lastDone = Math.max(...ok.map((s) => s.at + s.latency));
  const span = Math.max(result.seconds, ok.length ? (lastDone - first) / 1000 : result.seconds);
  const throughput = ok.length / span;
  const latency = summarize(ok.map((s) => s.latency));
  const step: StepResult = {
    rate: result.rate,
    seconds: result.seconds,
    sent: result.samples.length,
    ok: ok.length,
    errors: result.samples.length - ok.length,
    statuses,
    throughput: Number(throughput.toFixed(1)),
    latency,
    sendLagP99: result.sendLagP99,
    pass: true,
  };
  const reasons: string[] = [];
  if (ok.length < criteria.minSuccess * result.samples.length)
    reasons.push(`${step.errors} of ${step.sent} failed`);
  if (throughput < criteria.minThroughput * result.rate)
    reasons.push(`throughput ${step.throughput}/s < ${criteria.minThroughput}× offered`);
  if (latency.p99 === null || latency.p99 > criteria.p99BudgetMs)
    reasons.push(`p99 ${latency.p99} ms > ${criteria.p99BudgetMs} ms`);
  if (reasons.length) {
    step.pass = false;
    step.why = reasons.join('; ');
  }
  return step;
}

export interface LadderOptions {
  start: number;
  factor: number;
  max: number;
  maxSteps: number;
  /** A failed step whose throughput reached this share of the offered rate is tried once more. */
  retryAbove: number;
  /** Stop climbing once this returns true (the run's time budget). */
  outOfTime: () => boolean;
  log: (line: string) => void;
}

export interface Ladder<S extends StepResult> {
  steps: S[];
  /** The highest passing step, if any. */
  best?: S;
}

/**
 * Steps the offered rate up by `factor` until a step fails, then tries the geometric midpoint between
 * the last pass and the first failure once. Each step is `run(rate)`.
 */
export async function climb<S extends StepResult>(
  name: string,
  options: LadderOptions,
  run: (rate: number) => Promise<S>,
): Promise<Ladder<S>> {
  const steps: S[] = [];
  let best: S | undefined;
  let rate = options.start;
  let failedAt: number | undefined;
  let refined = false;
  const report = (step: S) =>
    options.log(
      `${name} @ ${step.rate}/s: ${step.throughput}/s, p50 ${step.latency.p50} ms, p99 ${step.latency.p99} ms` +
        (step.pass ? ' ✓' : ` ✗ (${step.why})`) +
        (step.retry ? ' (second try)' : ''),
    );
  while (steps.length < options.maxSteps && !options.outOfTime()) {
    let step = await run(rate);
    steps.push(step);
    report(step);
    // Other work on the machine causes latency spikes: a step that kept up with the offered rate but
    // missed only on latency gets a second try before it counts as a failure.
    if (!step.pass && step.throughput >= options.retryAbove * rate && !options.outOfTime()) {
      step = await run(rate);
      step.retry = true;
      steps.push(step);
      report(step);
    }
    if (step.pass && (!best || step.rate > best.rate)) best = step;
    if (!step.pass) failedAt = failedAt === undefined ? rate : Math.min(failedAt, rate);
    if (failedAt === undefined) {
      if (rate >= options.max) break;
      rate = Math.min(options.max, Math.round(rate * options.factor));
      continue;
    }
    // Nothing passed yet: step down. Otherwise one midpoint between the last pass and the first failure.
    if (!best) {
      rate = Math.floor(failedAt / options.factor);
      if (rate < 1 || steps.some((s) => s.rate === rate)) break;
      continue;
    }
    if (refined) break;
    refined = true;
    const mid = Math.round(Math.sqrt(best.rate * failedAt));
    if (steps.some((s) => s.rate === mid) || mid <= best.rate || mid >= failedAt) break;
    rate = mid;
  }
  return { steps, best };
}
