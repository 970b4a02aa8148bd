/**
 * The short fault run with several processes (the long one is `CHAOS_PROCESSES=2 make chaos`): two
 * APIs and two workers on one Temporal dev server and one Postgres, the rate limits counted in
 * Redis, orders round robin over both APIs. Under load, one worker of the two is killed with
 * SIGKILL and restarted some seconds later, and one API is stopped (SIGTERM) and started again on
 * its port meanwhile. Every invariant must hold, the other worker must take over while its peer is
 * down, and no order in flight at a fault may wait much longer than the fault lasted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startChaosStack, type ChaosStack } from './chaos/harness.js';
import { LoadGenerator } from './chaos/load.js';
import { checkInvariants, formatResults, tally, waitForSettled } from './chaos/invariants.js';
import { checkOutages, outageSlackMs } from './chaos/outages.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Orders per user and minute (RATE_LIMIT_ORDERS_USER): well above what the load sends. */
const ORDERS_PER_MINUTE = 60;
const MAX_WAIT = '10s';

let redis = false;
let stack: ChaosStack | undefined;
let load: LoadGenerator | undefined;
let failed = true;

beforeAll(async () => {
  // A generous connect timeout: on a busy machine a slow connect would skip the run for nothing.
  const probe = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 0 });
  redis = await probe.connect().then(
    () => true,
    () => false,
  );
  probe.disconnect();
  if (!redis) {
    console.warn(`Redis not reachable at ${redisUrl}: the several-process fault run is skipped`);
    return;
  }
  stack = await startChaosStack({
    aggregationMaxWait: MAX_WAIT,
    workers: 2,
    apis: 2,
    redisUrl,
    env: { RATE_LIMIT_ORDERS_USER: `${ORDERS_PER_MINUTE}/1m` },
  });
  load = new LoadGenerator({
    apiUrl: stack.apiUrls,
    users: 8,
    poorUsers: 2,
    deposit: '300.00',
    ratePerSecond: 2,
    runId: `m${process.pid}`,
    seed: 11,
  });
  await load.fund();
}, 240_000);

afterAll(async () => {
  await load?.stop({ abandonAfterMs: 5_000 });
  await stack?.teardown(failed);
}, 60_000);

async function call(url: string, token: string | undefined, body: unknown) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

it('the APIs count one user against one limit: a user alternating between them is limited by the sum', async () => {
  if (!redis) return;
  const [first, second] = stack!.apiUrls as [string, string];
  const registered = await call(`${first}/accounts/auth/register/`, undefined, {
    username: `limited${process.pid}`,
    password: 'chaos horse battery staple',
  });
  expect(registered.status).toBe(201);
  const token: string = registered.body.access;
  // An unknown crypto is refused at once, and each attempt still counts against the limit.
  const order = (api: string) => call(`${api}/orders/`, token, { crypto: 'NOPE', amount: 1 });
  const statuses: number[] = [];
  for (let i = 0; i < ORDERS_PER_MINUTE; i++) statuses.push((await order(i % 2 ? second : first)).status);
  // Each API has seen only half the limit; alone, neither would refuse yet.
  expect(statuses.filter((s) => s !== 400)).toEqual([]);
  for (const api of [first, second]) {
    const refused = await order(api);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
  }
}, 60_000);

it('keeps every order and every cent, and no order waits past the fault, when one of two workers is killed and an API restarts', async () => {
  if (!redis) return;
  const s = stack!;
  const l = load!;
  l.start();
  await sleep(3_000);
  await s.killWorker(1);
  const killedAt = Date.now();
  await sleep(1_000);
  // The API drains what it serves; the load's retries meanwhile go to the other one.
  await s.restartApi(0, 1_000);
  // The killed worker stays down long enough for its cached workflows to move to the survivor
  // (Temporal sends a workflow's tasks to the worker that cached it until that worker's sticky
  // queue has gone unpolled for 10 s, and a task put there times out after 10 s more).
  await sleep(Math.max(0, killedAt + 12_000 - Date.now()));
  await s.startWorker(1);
  // Load on the whole stack again, the restarted API included.
  await sleep(3_000);
  await l.stop();

  const settle = await waitForSettled(s, { timeoutMs: 90_000 });
  const results = await checkInvariants(s, { settle, load: l.orders });
  const outages = await checkOutages(s, {
    load: l.orders,
    slackMs: outageSlackMs(s.aggregationMaxWaitMs),
    workers: 2,
  });
  results.push(...outages.results);
  const stats = l.stats();
  const report =
    `${formatResults(results)}\noutages: ${outages.summary.join('; ')}\n` +
    `load: ${JSON.stringify(stats)}\nstate: ${JSON.stringify(await tally(s))}`;

  if (process.env.CHAOS_VERBOSE) process.stdout.write(`${report}\nfaults: ${JSON.stringify(s.faults)}\n`);
  expect({ report, failing: results.filter((r) => !r.ok) }).toEqual({ report, failing: [] });
  expect(s.crashes).toEqual([]);
  expect(s.outages.map((o) => [o.kind, o.index, o.to !== undefined])).toEqual([
    ['worker', 1, true],
    ['api', 0, true],
  ]);
  expect(stats.placed).toBeGreaterThan(0);
  expect(stats.unresolved).toBe(0);
  // Both APIs answered orders, the restarted one after its restart too.
  expect(stats.byApi.every((n) => n > 0)).toBe(true);
  const back = s.outages[1]!.to!;
  expect(l.orders.filter((o) => o.answeredBy === 0 && o.startedAt > back).length).toBeGreaterThan(0);
  expect((await s.fills()).length).toBeGreaterThan(0);
  failed = false;
}, 240_000);
