import { Bisector } from '../bench/ladder.js';
import { bisectOptions } from './support/bisect-options.js';
import {
  interleave,
  judge,
  settleFromFill,
  type PooledRow,
  type Sample,
  type StepResult,
} from '../bench/stats.js';

const criteria = { p99BudgetMs: 500, minSuccess: 0.99, minThroughput: 0.95 };
/** An open-loop step of `rate`/s for 4 s, the i-th answer taking latency(i) ms. */
const step = (rate: number, latency: (i: number) => number) => {
  const samples: Sample[] = Array.from({ length: rate * 4 }, (_, i) => ({
    at: 1_000_000 + (i * 1000) / rate,
    latency: latency(i),
    status: 200,
  }));
  return { rate, seconds: 4, samples, sendLagP99: 0 };
};

describe('judge', () => {
  it('passes a step whose answers keep pace, however long each takes within the budget', () => {
    const judged = judge(
      step(20, () => 300),
      200,
      criteria,
    );
    expect(judged.throughput).toBe(20);
    expect(judged.pass).toBe(true);
  });

  it('passes a step that kept pace but whose last answer was slow', () => {
    const judged = judge(
      step(20, (i) => (i === 79 ? 450 : 100)),
      200,
      criteria,
    );
    expect(judged.throughput).toBeGreaterThanOrEqual(0.95 * 20);
    expect(judged.pass).toBe(true);
  });

  it('fails a step whose answers fall behind the offered rate', () => {
    // Each answer 5 ms later than the one before: 80 answers spread over 4.4 s.
    const judged = judge(
      step(20, (i) => 50 + 5 * i),
      200,
      criteria,
    );
    expect(judged.throughput).toBeLessThan(0.95 * 20);
    expect(judged.why).toMatch(/throughput/);
  });

  it('fails on errors and on a p99 over the budget', () => {
    const errors = step(20, () => 100);
    errors.samples[0]!.status = 500;
    expect(judge(errors, 200, criteria).why).toMatch(/1 of 80 failed/);
    expect(
      judge(
        step(20, (i) => (i % 10 === 0 ? 900 : 100)),
        200,
        criteria,
      ).why,
    ).toMatch(/p99/);
  });
});

const row = (id: number, batch: string | null, updated: number, flushed = false): PooledRow => ({
  id: String(id),
  batch_id: batch,
  flushed,
  updated_ms: updated,
});

describe('settleFromFill', () => {
  it("counts each order of a full batch from the scheduled time of the batch's latest order", () => {
    // Batch b1: orders 1-3 scheduled at 0, 100 and 400 ms, all completed at 700 ms.
    const scheduled = new Map([
      [1, 0],
      [2, 100],
      [3, 400],
      [4, 500],
      [5, 650],
    ]);
    const completed = [
      row(1, 'b1', 700),
      row(2, 'b1', 700),
      row(3, 'b1', 700),
      row(4, 'b2', 900),
      row(5, 'b2', 950),
    ];
    expect(settleFromFill(completed, scheduled)).toEqual([300, 300, 300, 250, 300]);
  });

  it('leaves out batches flushed by the max wait and orders without a batch', () => {
    const scheduled = new Map([
      [1, 0],
      [2, 10],
      [3, 20],
    ]);
    expect(
      settleFromFill([row(1, 'b1', 5_000, true), row(2, null, 50), row(3, 'b2', 70)], scheduled),
    ).toEqual([50]);
  });

  it("ignores orders of the batch that another step scheduled (the step's own latest filled it)", () => {
    const scheduled = new Map([[8, 1_000]]);
    expect(settleFromFill([row(7, 'b1', 1_200), row(8, 'b1', 1_200)], scheduled)).toEqual([200, 200]);
  });
});

describe('interleave', () => {
  /** A ladder whose steps pass up to `knee`, recording the rates it was run at. */
  const ladder = (name: string, start: number, knee: number, ran: number[]) => ({
    name,
    bisector: new Bisector({ ...bisectOptions, start }),
    run: async (rate: number): Promise<StepResult> => {
      ran.push(rate);
      const pass = rate <= knee;
      return {
        ...judge(
          step(rate, () => (pass ? 10 : 900)),
          200,
          criteria,
        ),
        pass,
      };
    },
  });
  const noLimit = { concludeNow: () => false, stopNow: () => false };

  it('runs one step of each ladder in turn, and a ladder done first keeps running its best rate', async () => {
    const shortRuns: number[] = [];
    const longRuns: number[] = [];
    // Searched alone, the short ladder takes 13 steps (16, 32, 23, …, 30/31 three times each) and
    // the long one 19 (1, 2, 4, … 64, then bisecting to 57/59).
    const [short, long] = await interleave(
      [ladder('short', 16, 30, shortRuns), ladder('long', 1, 57, longRuns)],
      noLimit,
      () => undefined,
    );
    expect(shortRuns).toHaveLength(longRuns.length);
    expect(longRuns.length).toBeGreaterThan(13);
    // Once its search ended, the short ladder ran only its best rate, and those steps count for it.
    expect(short!.bestRate).toBe(30);
    expect(shortRuns.slice(13).every((rate) => rate === 30)).toBe(true);
    expect(short!.atBest).toHaveLength(shortRuns.filter((rate) => rate === 30).length);
    expect(short!.atBest.length).toBeGreaterThan(3);
    expect(long!.bestRate).toBe(57);
  });

  it('a ladder done first whose best rate fails in turn with the other falls back on the rate below it that held', async () => {
    const short = ladder('short', 16, 30, []);
    const run = short.run;
    // The machine slows once the short search is over: its best rate no longer holds.
    short.run = async (rate) => {
      const result = await run(rate);
      return short.bisector.next() === undefined && rate > 27 ? { ...result, pass: false } : result;
    };
    const [result] = await interleave([short, ladder('long', 1, 57, [])], noLimit, () => undefined);
    // 30 passed its three repeats; once it has failed as often in turn (a tie does not hold), the
    // figure moves to 29, which passed in the search; 29 fails in turn as well and the figure moves
    // on to 27, the next rate below that passed in the search, which holds.
    expect(result!.steps.filter((s) => s.rate === 30 && !s.pass)).toHaveLength(3);
    expect(result!.steps.filter((s) => s.rate === 29).map((s) => s.pass)).toEqual([true, false]);
    expect(result!.bestRate).toBe(27);
    expect(result!.atBest.length).toBeGreaterThan(1);
  });
});
