/** Latency summaries and the pass/fail rule every rate ladder uses. */
import type { CpuUse } from './cpu.js';
import { slope, type Bisector } from './ladder.js';

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

/** A pooled order as the bench reads it back: its batch, and when it last changed. */
export interface PooledRow {
  id: string;
  batch_id: string | null;
  /** The order's batch was bought because the max wait ran out (the house topped it up). */
  flushed: boolean;
  /** Epoch ms of the order's last change (its completion, for a completed order). */
  updated_ms: number;
}

/**
 * For each completed order of a batch bought at the threshold: ms from the scheduled time of the
 * batch's latest order in `scheduled` (the one that filled it) to the order's completion. Orders of
 * batches flushed by the max wait are left out, as in the batch lag.
 */
export function settleFromFill(completed: PooledRow[], scheduled: Map<number, number>): number[] {
  const filledAt = new Map<string, number>();
  for (const row of completed) {
    const at = scheduled.get(Number(row.id));
    if (row.batch_id === null || row.flushed || at === undefined) continue;
    filledAt.set(row.batch_id, Math.max(filledAt.get(row.batch_id) ?? at, at));
  }
  return completed
    .filter((row) => row.batch_id !== null && filledAt.has(row.batch_id))
    .map((row) => row.updated_ms - filledAt.get(row.batch_id!)!);
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
  /** Successful completions per second, less the share the answers fell behind by (latency slope). */
  throughput: number;
  latency: LatencySummary;
  sendLagP99: number | null;
  pass: boolean;
  why?: string;
  /** A repeat of a deciding rate (best pass or first failure). */
  repeat?: boolean;
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
  // Completions per second: the successes per second of the step, less the share the server fell
  // behind by. Open loop, a server completing μ/s of λ/s offered has latencies growing by λ/μ − 1 ms
  // per ms of the step, so μ = λ ÷ (1 + slope). The least-squares slope uses every answer; the
  // first and last answers alone would make one slow answer at the end fail a step that kept pace.
  const drift = slope(ok.map((s) => ({ x: s.at, y: s.latency }))) ?? 0;
  const throughput = ok.length / result.seconds / (1 + Math.max(0, drift));
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

export interface Ladder<S extends StepResult> {
  /** Every step, in the order run. */
  steps: S[];
  /** The rate the search settled on (its best pass, decided by the majority of its repeats). */
  bestRate?: number;
  /** The lowest rate that failed on the whole (the other side of the knee). */
  firstFailRate?: number;
  /** Every step run at `bestRate`: the repeats whose medians make the figures. */
  atBest: S[];
  /** The step at `bestRate` with the median throughput: the representative one. */
  best?: S;
}

export interface LadderSpec<S extends StepResult> {
  name: string;
  bisector: Bisector;
  /** `repeat`: the step is a repeat of a deciding rate. */
  run: (rate: number, repeat: boolean) => Promise<S>;
}

/** One line for a ladder step in the run's log; `note` says why it ran, e.g. "repeat". */
export const logStep = (log: (line: string) => void, name: string, step: StepResult, note?: string) =>
  log(
    `${name} @ ${step.rate}/s: ${step.throughput}/s, p50 ${step.latency.p50} ms, p99 ${step.latency.p99} ms` +
      (step.pass ? ' ✓' : ` ✗ (${step.why})`) +
      (note ? ` (${note})` : ''),
  );

export interface TimeLimits {
  /** Past this, the ladders stop searching and only run the repeats of what they found. */
  concludeNow: () => boolean;
  /** Past this, they stop altogether (a ladder cut short keeps its best pass so far). */
  stopNow: () => boolean;
}

/**
 * Runs several ladders step by step in turn (one step of each, then the next of each), so that drift
 * on the machine hits all of them alike. A ladder whose search has ended while another's goes on
 * keeps running its best rate in its turn (`Bisector.addResult`: they count for its best rate and its
 * figures, and steer nothing): in run 20261201T024800Z B-temporal went on alone for six steps after
 * the orders' search ended, through a slow spell the orders never met, and its figure fell by a fifth.
 */
export async function interleave<S extends StepResult>(
  specs: LadderSpec<S>[],
  limits: TimeLimits,
  log: (line: string) => void,
): Promise<Ladder<S>[]> {
  const steps = specs.map(() => [] as S[]);
  const outOfTime = limits.stopNow;
  for (;;) {
    if (limits.concludeNow()) for (const spec of specs) spec.bisector.conclude();
    const active = specs.filter((s) => s.bisector.next() !== undefined);
    if (active.length === 0 || outOfTime()) break;
    for (const [i, spec] of specs.entries()) {
      if (outOfTime()) continue;
      const searching = spec.bisector.next();
      const rate = searching ?? spec.bisector.best;
      if (rate === undefined) continue;
      const repeat = searching === undefined || spec.bisector.isRepeat(rate);
      const step = await spec.run(rate, repeat);
      if (repeat) step.repeat = true;
      steps[i]!.push(step);
      if (searching === undefined) spec.bisector.addResult(rate, step.pass);
      else spec.bisector.record(rate, step.pass);
      const note =
        searching === undefined ? 'repeat, in turn with a search still going' : repeat ? 'repeat' : undefined;
      logStep(log, spec.name, step, note);
    }
  }
  return specs.map((spec, i) => summarizeLadder(steps[i]!, spec.bisector));
}

/** `extra`: steps of the same work run outside the ladder (`Bisector.addResult`), for the figure. */
export function summarizeLadder<S extends StepResult>(
  steps: S[],
  bisector: Bisector,
  extra: S[] = [],
): Ladder<S> {
  const bestRate = bisector.best;
  const atBest = bestRate === undefined ? [] : [...steps, ...extra].filter((s) => s.rate === bestRate);
  const byThroughput = [...atBest].sort((a, b) => a.throughput - b.throughput);
  const ladder: Ladder<S> = { steps, atBest };
  if (bestRate !== undefined) ladder.bestRate = bestRate;
  if (bisector.hi !== undefined && bisector.hi !== bestRate) ladder.firstFailRate = bisector.hi;
  const best = byThroughput[(byThroughput.length - 1) >> 1];
  if (best) ladder.best = best;
  return ladder;
}

/** Fails a step for `reason`, after any reason it already failed for. */
export function failStep(step: StepResult, reason: string): void {
  step.pass = false;
  step.why = [step.why, reason].filter(Boolean).join('; ');
}
