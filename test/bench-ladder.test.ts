import { Bisector, median, POOLED_LADDER_FACTOR, slope, spread } from '../bench/ladder.js';
import { bisectOptions as options } from './support/bisect-options.js';

/**
 * Runs a bisector against a pass rule; returns the rates in the order they were tried. With
 * `outOfTimeAfter`, the time runs out after that many steps: as the ladders do, conclude() is
 * called before every step from then on.
 */
function search(
  bisector: Bisector,
  passes: (rate: number, nth: number) => boolean,
  outOfTimeAfter = Infinity,
): number[] {
  const tried: number[] = [];
  for (let rate = bisector.next(); rate !== undefined; rate = bisector.next()) {
    const nth = tried.filter((r) => r === rate).length;
    tried.push(rate);
    bisector.record(rate, passes(rate, nth));
    if (tried.length >= outOfTimeAfter) bisector.conclude();
    if (tried.length > 100) throw new Error('the search does not end');
  }
  return tried;
}

describe('Bisector', () => {
  it('doubles to the first failure, bisects to within the tolerance, then repeats both deciding rates', () => {
    const knee = 57;
    const bisector = new Bisector(options);
    const tried = search(bisector, (rate) => rate <= knee);
    expect(tried.slice(0, 4)).toEqual([10, 20, 40, 80]);
    const best = bisector.best!;
    const fail = bisector.hi!;
    expect(best).toBeLessThanOrEqual(knee);
    expect(fail).toBeGreaterThan(knee);
    expect(fail / best).toBeLessThanOrEqual(1.05);
    expect(tried.filter((r) => r === best)).toHaveLength(3);
    expect(tried.filter((r) => r === fail)).toHaveLength(3);
    // The repeats come last and alternate between the two rates.
    expect(tried.slice(-4).sort()).toEqual([best, best, fail, fail].sort());
    expect(bisector.phase).toBe('done');
  });

  it('steps down when the first rate fails', () => {
    const bisector = new Bisector(options);
    const tried = search(bisector, (rate) => rate <= 3);
    expect(tried.slice(0, 3)).toEqual([10, 5, 2]);
    expect(bisector.best).toBe(3);
  });

  it('moves down once when the best pass fails on the whole', () => {
    // 40 passes the first time only: its repeats fail, so the knee is below it.
    const bisector = new Bisector(options);
    search(bisector, (rate, nth) => rate < 40 || (rate === 40 && nth === 0));
    expect(bisector.best).toBeDefined();
    expect(bisector.best!).toBeLessThan(40);
    expect(bisector.results.get(bisector.best!)!.filter(Boolean).length).toBeGreaterThanOrEqual(2);
  });

  it('moves up once when the first failure passes on the whole', () => {
    // 80 fails the first time only (a spike): the repeats show it passes; 160 fails.
    const bisector = new Bisector(options);
    search(bisector, (rate, nth) => (rate === 80 ? nth > 0 : rate < 100));
    expect(bisector.best!).toBeGreaterThanOrEqual(80);
    expect(bisector.best!).toBeLessThan(100);
  });

  it('reports no best when nothing passes', () => {
    const bisector = new Bisector(options);
    search(bisector, () => false);
    expect(bisector.best).toBeUndefined();
  });

  it('out of time, it runs the midpoint it had chosen, then only repeats the bracket found so far', () => {
    const bisector = new Bisector(options);
    const tried: number[] = [];
    for (let rate = bisector.next(); rate !== undefined; rate = bisector.next()) {
      tried.push(rate);
      bisector.record(rate, rate <= 57);
      if (tried.length === 5) bisector.conclude(); // 10, 20, 40, 80, 57; 68 was chosen next
    }
    expect(tried).toEqual([10, 20, 40, 80, 57, 68, 57, 68, 57, 68]);
    expect(bisector.best).toBe(57);
    // Cut short in the middle of the repeats: a tie is not a rate that holds, the pass below is.
    const cut = new Bisector(options);
    const passes = (rate: number) => rate <= 57;
    for (const rate of [10, 20, 40, 80, 57, 68, 62, 59]) {
      expect(cut.next()).toBe(rate);
      cut.record(rate, passes(rate));
    }
    expect(cut.phase).toBe('repeat');
    expect(cut.next()).toBe(57);
    cut.record(57, false);
    expect(cut.best).toBe(40);
    cut.record(cut.next()!, false); // 59
    cut.record(cut.next()!, true); // 57 again: two passes of three, it holds
    expect(cut.best).toBe(57);
    const none = new Bisector(options);
    none.record(10, false);
    none.conclude();
    expect(none.next()).toBeUndefined();
  });

  it('out of time just after its bracket moved down, it still bisects once instead of taking the pass below', () => {
    // As in run 20261130T203349Z: 45/s passed once and failed its repeats, the bracket moved down to
    // 32–45, and the time ran out before its midpoint ran: the result was 32/s with the knee near 40.
    const bisector = new Bisector({ ...options, start: 16, maxShifts: 2 });
    const tried = search(bisector, (rate, nth) => rate <= 40 || (rate === 45 && nth === 0), 11);
    expect(tried.slice(0, 11)).toEqual([16, 32, 64, 45, 54, 49, 47, 45, 47, 45, 47]);
    expect(tried[11]).toBe(38);
    expect(bisector.phase).toBe('done');
    expect(bisector.best).toBe(38);
  });

  it('out of time, a best pass that fails its repeats is bisected down from, not dropped to the pass below', () => {
    const bisector = new Bisector({ ...options, maxShifts: 2 });
    // 57 passes once, then fails: the knee is lower, between 40 and 57. Out of time after 5 steps.
    const tried = search(bisector, (rate, nth) => rate <= 50 || (rate === 57 && nth === 0), 5);
    expect(tried.slice(0, 5)).toEqual([10, 20, 40, 80, 57]);
    expect(bisector.phase).toBe('done');
    expect(bisector.best).toBeGreaterThan(40);
    expect(bisector.best).toBeLessThanOrEqual(50);
  });

  it('a first rate that passes once and then fails is stepped down from in small steps, not halved', () => {
    // As in a run on a slowing machine: 16 passed at the start, failed its repeats, and the knee
    // had moved to 14. Out of time once the bracket has moved down (10 steps).
    const bisector = new Bisector({ ...options, start: 16, maxShifts: 2 });
    const tried = search(bisector, (rate, nth) => rate <= 14 || (rate === 16 && nth === 0), 10);
    expect(tried.slice(0, 2)).toEqual([16, 32]);
    expect(tried).not.toContain(8);
    // Within one small step (1 + 4 × 5 %) of the knee.
    expect(bisector.best).toBeGreaterThanOrEqual(13);
    expect(bisector.best).toBeLessThanOrEqual(14);
  });

  it('started below a neighbouring knee with steps of a quarter, it brackets the knee in fewer steps than doubling', () => {
    // As the pooled ladder runs: $12 orders passed at 30/s, pooled orders pass up to 28/s. The steps
    // saved are left for the repeats and for moving the bracket when a pass fails them.
    const passes = (rate: number) => rate <= 28;
    const bracket = (start: number, factor: number) => {
      const bisector = new Bisector({ ...options, start, factor });
      const tried = search(bisector, passes);
      expect(bisector.best).toBe(28);
      return tried.length - 2 * options.repeats + 2;
    };
    expect(bracket(24, POOLED_LADDER_FACTOR)).toBe(5); // 24, 30, 27, 28, 29
    expect(bracket(15, 2)).toBe(7); // 15, 30, 21, 25, 27, 28, 29
  });

  it('started below a knee that drifts down, its first pass is left to fall back on', () => {
    // 27 passes once, then the stack slows and only 24 and below pass. Started at 27, nothing below
    // had passed when 27 failed its repeats out of time: no figure. Started at 24, 24 is the figure.
    const passes = (rate: number, nth: number) => rate <= 24 || (rate === 27 && nth === 0);
    const from = (start: number) => {
      const bisector = new Bisector({ ...options, start, factor: POOLED_LADDER_FACTOR, maxShifts: 2 });
      search(bisector, passes, 5);
      return bisector.best;
    };
    expect(from(27)).toBeUndefined();
    expect(from(24)).toBe(24);
  });

  it('a result from outside the search counts below a best pass that failed, and steers nothing', () => {
    // As in run 20261130T231252Z's B-temporal ladder: 47/s and then 45/s each passed once and failed
    // their repeats; with no more moves allowed the figure fell to the pass below, 32/s. B-temporal
    // beside the orders had passed at 38/s.
    const bisector = new Bisector({ ...options, start: 16, maxShifts: 2 });
    // Time ran out for good (1.4 × the allotment) once 45/s had failed its repeats.
    const tried: number[] = [];
    for (let rate = bisector.next(); rate !== undefined && tried.length < 13; rate = bisector.next()) {
      const nth = tried.filter((r) => r === rate).length;
      tried.push(rate);
      bisector.record(rate, rate <= 40 || ([45, 47].includes(rate) && nth === 0));
    }
    expect(tried).toEqual([16, 32, 64, 45, 54, 49, 47, 47, 49, 47, 49, 45, 45]);
    expect(bisector.best).toBe(32);
    bisector.addResult(38, true);
    expect(bisector.best).toBe(38);
    // A pass above a best pass that held changes nothing.
    const held = new Bisector(options);
    search(held, (rate) => rate <= 50);
    const best = held.best!;
    held.addResult(best + 5, true);
    expect(held.best).toBe(best);
  });

  it('stops at the maximum and repeats it', () => {
    const bisector = new Bisector({ ...options, max: 50 });
    const tried = search(bisector, () => true);
    expect(tried).toEqual([10, 20, 40, 50, 50, 50]);
    expect(bisector.best).toBe(50);
  });

  it("started at its maximum (pool-direct at B-signal's best rate), it only repeats it while it holds", () => {
    const capped = { ...options, start: 609, max: 609, factor: POOLED_LADDER_FACTOR };
    const holds = new Bisector(capped);
    expect(search(holds, () => true)).toEqual([609, 609, 609]);
    expect(holds.best).toBe(609);
    // Failing there, it steps down by a quarter until a rate holds, then bisects up to the failure.
    const fails = new Bisector(capped);
    const tried = search(fails, (rate) => rate <= 450);
    expect(tried.slice(0, 3)).toEqual([609, 487, 389]);
    expect(fails.best).toBeLessThanOrEqual(450);
    expect(fails.best).toBeGreaterThan(389);
  });
});

describe('median, spread and slope', () => {
  it('median of odd and even counts, ignoring non-finite values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([Number.NaN, 5])).toBe(5);
    expect(median([])).toBeNull();
  });

  it('spread is the median and the range of the values present', () => {
    expect(spread([40, null, 38, 41])).toEqual({ median: 40, min: 38, max: 41, n: 3 });
    expect(spread([])).toEqual({ median: null, min: null, max: null, n: 0 });
  });

  it('slope is the least-squares fit', () => {
    expect(slope([0, 10, 20, 30].map((x) => ({ x, y: 100 + 0.5 * x })))).toBeCloseTo(0.5);
    expect(slope([{ x: 1, y: 2 }])).toBeNull();
    expect(slope([0, 10, 20].map((x) => ({ x, y: 7 })))).toBe(0);
  });
});
