import { jest } from '@jest/globals';
import { createPoolFeed, type SendToPool } from '../src/activities/pool-feed.js';
import type { PoolArrival } from '../src/workflows/definitions.js';

// The grouping of pooled orders into signals, with an in-memory sender: logic only, no I/O (the
// signals themselves are exercised against Temporal in workflows-order.test.ts).

const order = (orderId: number, total: string): PoolArrival => ({ orderId, total, amount: '1' });

/** A sender that records each signal and answers when the test says so. */
function recordingSender(threshold = 1000n) {
  const signals: { key: string; ids: number[]; answer: (error?: Error) => void }[] = [];
  const send: SendToPool = (key, orders) =>
    new Promise((resolve, reject) => {
      signals.push({
        key,
        ids: orders.map((o) => o.orderId),
        answer: (error) => (error ? reject(error) : resolve(threshold)),
      });
    });
  return { send, signals };
}

/** Whether the promise has settled, after pending callbacks ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

it('sends the orders of one linger in one signal, and answers each once it is accepted', async () => {
  const { send, signals } = recordingSender();
  const feed = createPoolFeed({ send, lingerMs: 200, threshold: 1000n });
  const first = feed.add('BTC', order(1, '2.00'));
  jest.advanceTimersByTime(150);
  const second = feed.add('BTC', order(2, '3.00'));
  expect(signals).toEqual([]);
  jest.advanceTimersByTime(50);
  expect(signals.map((s) => s.ids)).toEqual([[1, 2]]);
  expect(await settled(first)).toBe(false);
  signals[0]!.answer();
  await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
});

it('sends at once the order that would fill the pool, counting what it sent since the pool last filled', async () => {
  const { send, signals } = recordingSender();
  const feed = createPoolFeed({ send, lingerMs: 200, threshold: 1000n });
  void feed.add('BTC', order(1, '4.00'));
  jest.advanceTimersByTime(200);
  expect(signals.map((s) => s.ids)).toEqual([[1]]);
  void feed.add('BTC', order(2, '4.00'));
  expect(signals).toHaveLength(1);
  // 4 sent + 4 waiting + 2 = 10: the pool is full with this one, no reason to wait.
  void feed.add('BTC', order(3, '2.00'));
  expect(signals.map((s) => s.ids)).toEqual([[1], [2, 3]]);
  // The pool bought all it held: the next order waits for others again.
  void feed.add('BTC', order(4, '9.99'));
  expect(signals).toHaveLength(2);
  jest.advanceTimersByTime(200);
  expect(signals.map((s) => s.ids)).toEqual([[1], [2, 3], [4]]);
});

it('keeps pools apart, and follows the threshold each signal sent', async () => {
  const { send, signals } = recordingSender(500n);
  const feed = createPoolFeed({ send, lingerMs: 200, threshold: 1000n });
  void feed.add('BTC', order(1, '6.00'));
  void feed.add('ETH', order(2, '6.00'));
  expect(signals).toEqual([]);
  jest.advanceTimersByTime(200);
  expect(signals.map((s) => [s.key, s.ids])).toEqual([
    ['BTC', [1]],
    ['ETH', [2]],
  ]);
  signals[0]!.answer();
  await new Promise((resolve) => setImmediate(resolve));
  // BTC's pool fills at 5.00 now: its 6.00 filled it, so a 4.99 waits and a 5.00 goes at once.
  void feed.add('BTC', order(3, '4.99'));
  expect(signals).toHaveLength(2);
  void feed.add('BTC', order(4, '0.01'));
  expect(signals.map((s) => s.ids)).toEqual([[1], [2], [3, 4]]);
});

it('fails every order of a signal that failed, and the next orders start afresh', async () => {
  const { send, signals } = recordingSender();
  const feed = createPoolFeed({ send, lingerMs: 0, threshold: 1000n });
  const group = [feed.add('BTC', order(1, '2.00')), feed.add('BTC', order(2, '2.00'))];
  jest.advanceTimersByTime(0);
  expect(signals.map((s) => s.ids)).toEqual([[1, 2]]);
  signals[0]!.answer(new Error('temporal unavailable'));
  for (const added of group) await expect(added).rejects.toThrow('temporal unavailable');
  // What was sent before the failure no longer counts towards filling the pool.
  void feed.add('BTC', order(3, '6.00'));
  expect(signals).toHaveLength(1);
  jest.advanceTimersByTime(0);
  expect(signals.map((s) => s.ids)).toEqual([[1, 2], [3]]);
});
