/**
 * The short fault run (the long one is `make chaos`, scripts/chaos.ts): real Postgres, Temporal,
 * worker and API processes under load; the exchange fails 20% of buys, then drops 20% of responses
 * after executing them; then the worker is killed with SIGKILL and restarted. Afterwards
 * every order must settle and every money invariant must hold. Nothing here asserts on timing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startChaosStack, type ChaosStack } from './chaos/harness.js';
import { LoadGenerator } from './chaos/load.js';
import { checkInvariants, formatResults, tally, waitForSettled } from './chaos/invariants.js';

let stack: ChaosStack | undefined;
let load: LoadGenerator | undefined;
let failed = true;

beforeAll(async () => {
  stack = await startChaosStack({ aggregationMaxWait: '10s' });
  load = new LoadGenerator({
    apiUrl: stack.apiUrl,
    users: 8,
    poorUsers: 2,
    deposit: '300.00',
    ratePerSecond: 3,
    runId: `t${process.pid}`,
    seed: 7,
  });
  await load.fund();
}, 180_000);

afterAll(async () => {
  await load?.stop({ abandonAfterMs: 5_000 }); // after a failure, requests may still be retrying
  // A failed run keeps .data/chaos-<pid> (Postgres data, Temporal history, children's logs).
  await stack?.teardown(failed);
}, 60_000);

it('keeps every order and every cent through a worker kill -9 and exchange faults', async () => {
  const s = stack!;
  const l = load!;
  l.start();
  await sleep(2_000);
  // Exchange faults first, while pools fill and flush: batches are bought through them too.
  await s.setExchangeFaults({ failure_rate: 0.2 });
  await sleep(5_000);
  await s.setExchangeFaults({ failure_rate: 0, drop_rate: 0.2 });
  await sleep(5_000);
  await s.setExchangeFaults({ drop_rate: 0 });
  await s.killWorker();
  await sleep(1_000);
  await s.startWorker();
  await sleep(2_000);
  await l.stop();

  const settle = await waitForSettled(s, { timeoutMs: 90_000 });
  const results = await checkInvariants(s, { settle, load: l.orders });
  const stats = l.stats();
  const report = `${formatResults(results)}\nload: ${JSON.stringify(stats)}\nstate: ${JSON.stringify(await tally(s))}`;

  if (process.env.CHAOS_VERBOSE) process.stdout.write(`${report}\nfaults: ${JSON.stringify(s.faults)}\n`);
  expect({ report, failing: results.filter((r) => !r.ok) }).toEqual({ report, failing: [] });
  expect(s.crashes).toEqual([]);
  // The run did exercise something: orders were placed and settled through the exchange.
  expect(stats.placed).toBeGreaterThan(0);
  expect(stats.unresolved).toBe(0);
  expect((await s.fills()).length).toBeGreaterThan(0);
  failed = false;
}, 240_000);
