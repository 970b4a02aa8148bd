/**
 * The rate search every ladder uses, and the summaries of its repeated steps. Pure: no I/O, no clock.
 *
 * A ladder doubles its rate until a step fails (or halves it until one passes), then bisects
 * geometrically between the best pass and the first failure until they are within `tolerance` of each
 * other. The two deciding rates (best pass, first fail) are then run again until each has `repeats`
 * results, and the majority (the median of pass/fail) decides. If the best pass turns out to fail
 * more often than not, the search moves down to the next lower pass and bisects up from there; if
 * the first failure turns out to pass, it becomes the best pass and the bisection goes on above it.
 * Such moves are limited (`maxShifts`), and out of time (`conclude`) one is still allowed, as is the
 * midpoint a bisection had already chosen. A move down with no pass below steps down by
 * 1 + 4 × tolerance at a time instead of halving.
 */

export interface BisectOptions {
  start: number;
  /** Growth while climbing, and division while stepping down. */
  factor: number;
  max: number;
  /** Lowest rate worth trying. */
  min: number;
  /** Bisection stops once firstFail / bestPass ≤ 1 + tolerance. */
  tolerance: number;
  /** Results each deciding rate needs before the majority decides. */
  repeats: number;
  /** How many times the repeats may move the bracket. */
  maxShifts: number;
}

export type Phase = 'climb' | 'bisect' | 'repeat' | 'done';

/**
 * Growth (and division) of the pooled phase's ladders (pooled orders, and $12 orders again), which
 * start just below the $12 orders' best rate: the knees are known to be near, so steps of a quarter
 * bracket them sooner than doubling.
 */
export const POOLED_LADDER_FACTOR = 1.25;

const majorityPasses = (results: boolean[]) => results.filter(Boolean).length * 2 > results.length;

export class Bisector {
  readonly results = new Map<number, boolean[]>();
  phase: Phase = 'climb';
  /** The highest rate believed to pass, and the lowest believed to fail. */
  lo: number | undefined;
  hi: number | undefined;
  private pending: number | undefined;
  private shifts = 0;
  /** Division per step down while nothing below the failures has passed. */
  private descent: number;
  private concluded = false;
  /** Out of time in the middle of a bisection: the pending midpoint is its last step. */
  private lastMidpoint = false;

  constructor(readonly options: BisectOptions) {
    this.pending = Math.max(options.min, Math.min(options.max, options.start));
    this.descent = options.factor;
  }

  /** The rate to run next, or undefined once the search is over. */
  next(): number | undefined {
    return this.phase === 'done' ? undefined : this.pending;
  }

  /** Whether the step at `rate` is one of the repeats (a deciding step run again). */
  isRepeat(rate: number): boolean {
    return this.phase === 'repeat' && (rate === this.lo || rate === this.hi);
  }

  record(rate: number, pass: boolean): void {
    const list = this.results.get(rate) ?? [];
    list.push(pass);
    this.results.set(rate, list);
    if (this.phase === 'repeat') return this.afterRepeat();
    // Before the repeats one result counts; the pass nearest the failure and vice versa.
    if (pass && (this.lo === undefined || rate > this.lo)) this.lo = rate;
    if (!pass && (this.hi === undefined || rate < this.hi)) this.hi = rate;
    this.advance();
  }

  /**
   * A result of the same work at the same criteria run outside the search (B-temporal beside the
   * orders, at their best rate): it counts when the best rate is chosen below a best pass that
   * failed (see `best`), and does not steer the search.
   */
  addResult(rate: number, pass: boolean): void {
    this.results.set(rate, [...(this.results.get(rate) ?? []), pass]);
  }

  /**
   * The rate the search settled on: the highest rate below the first failure that passed more often
   * than it failed. That is the best pass, unless a search cut short left it failing, or tied, on the
   * whole (then the next rate below that held) or a result from outside the search (`addResult`)
   * holds between it and the first failure. A tie is a coin toss, not a rate the system holds, and
   * its figures are the mean of a pass and a collapse (run 20261201T110356Z: orders at 70/s passed
   * once and failed once, and their placement p99 read 1,019 ms, between 317 and 1,721).
   */
  get best(): number | undefined {
    const holds = (rate: number) => majorityPasses(this.results.get(rate) ?? []);
    const held = [...this.results.keys()].filter(
      (rate) => (this.hi === undefined || rate < this.hi) && holds(rate),
    );
    return held.length ? Math.max(...held) : undefined;
  }

  /**
   * Out of time: stop searching and run only the repeats of the bracket found so far. One move of
   * the bracket is still allowed, so that a best pass that fails its repeats is bisected down from
   * instead of dropping the result to whatever passed below it (at a doubling, half the knee).
   */
  conclude(): void {
    if (this.concluded || (this.phase !== 'climb' && this.phase !== 'bisect')) return;
    this.concluded = true;
    this.shifts = Math.max(this.shifts, this.options.maxShifts - 1);
    if (this.lo === undefined) return this.finish();
    // A midpoint already chosen still runs: it halves the bracket for one step. Cut off before it,
    // a bracket just moved down by the repeats (best pass 45/s failing them, the pass below at 32/s)
    // left the result at its bottom, 30 % under the knee.
    if (this.phase === 'bisect') {
      this.lastMidpoint = true;
      return;
    }
    this.startRepeats();
  }

  private advance(): void {
    const { factor, max, min, tolerance } = this.options;
    const { lo, hi } = this;
    if (hi === undefined) {
      // Still climbing: every step so far passed.
      if (lo === undefined || lo >= max) return this.startRepeats();
      this.phase = 'climb';
      this.pending = Math.min(max, Math.max(lo + 1, Math.round(lo * factor)));
      return;
    }
    if (lo === undefined) {
      // Nothing has passed yet: step down.
      const down = Math.floor(hi / this.descent);
      if (down < min || down >= hi) return this.finish();
      this.phase = 'climb';
      this.pending = down;
      return;
    }
    const mid = Math.round(Math.sqrt(lo * hi));
    if (this.lastMidpoint || hi / lo <= 1 + tolerance || mid <= lo || mid >= hi) {
      this.lastMidpoint = false;
      return this.startRepeats();
    }
    this.phase = 'bisect';
    this.pending = mid;
  }

  private startRepeats(): void {
    this.phase = 'repeat';
    this.afterRepeat();
  }

  /** Runs lo and hi alternately until each has `repeats` results, then lets the majority decide. */
  private afterRepeat(): void {
    const need = (rate: number | undefined) =>
      rate === undefined ? 0 : this.options.repeats - (this.results.get(rate)?.length ?? 0);
    const loNeed = need(this.lo);
    const hiNeed = need(this.hi);
    if (loNeed > 0 || hiNeed > 0) {
      this.pending = loNeed >= hiNeed ? this.lo : this.hi;
      return;
    }
    const loPasses = this.lo !== undefined && majorityPasses(this.results.get(this.lo)!);
    const hiPasses = this.hi !== undefined && majorityPasses(this.results.get(this.hi)!);
    if (this.shifts >= this.options.maxShifts || (loPasses && !hiPasses)) return this.finish();
    this.shifts++;
    if (!loPasses) {
      // The best pass fails on the whole: the knee is lower.
      this.hi = this.lo;
      const lower = [...this.results]
        .filter(([rate, r]) => rate < this.hi! && majorityPasses(r))
        .map(([rate]) => rate);
      this.lo = lower.length ? Math.max(...lower) : undefined;
      // It passed once, so the knee is likely just below it: step down in small steps, not by
      // halves (a halving out of time would leave the result at half the knee).
      this.descent = 1 + 4 * this.options.tolerance;
    } else {
      // The first failure passes on the whole: the knee is higher.
      this.lo = this.hi;
      const higher = [...this.results]
        .filter(([rate, r]) => rate > this.lo! && !majorityPasses(r))
        .map(([rate]) => rate);
      this.hi = higher.length ? Math.min(...higher) : undefined;
    }
    this.advance();
  }

  private finish(): void {
    this.phase = 'done';
    this.pending = undefined;
  }
}

/** Median of the values (mean of the middle two for an even count); null for none. */
export function median(values: number[]): number | null {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Spread {
  median: number | null;
  min: number | null;
  max: number | null;
  n: number;
}

/** Median and range (min–max) of repeated measurements of one figure. */
export function spread(values: (number | null | undefined)[]): Spread {
  const present = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const m = median(present);
  return {
    median: m === null ? null : Number(m.toFixed(2)),
    min: present.length ? Math.min(...present) : null,
    max: present.length ? Math.max(...present) : null,
    n: present.length,
  };
}

/** Least-squares slope of y over x (per unit of x); null with fewer than two distinct x. */
export function slope(points: { x: number; y: number }[]): number | null {
  if (points.length < 2) return null;
  const mx = points.reduce((a, p) => a + p.x, 0) / points.length;
  const my = points.reduce((a, p) => a + p.y, 0) / points.length;
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  if (sxx === 0) return null;
  return points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0) / sxx;
}
