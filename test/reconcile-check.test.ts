import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createAccount } from '../src/services/accounts.js';
import { deposit } from '../src/services/wallet.js';
import { createWorkerMetrics, type WorkerMetrics } from '../src/metrics/worker-metrics.js';
import { startReconcileCheck, type ReconcileCheck } from '../src/metrics/reconcile-check.js';
import { eventually } from './support/api.js';

// The worker's periodic check over a real Postgres: what it exports when the books agree, when a
// wallet no longer equals its ledger, and when it cannot run at all.

let db: TestDatabase;
let metrics: WorkerMetrics;
let check: ReconcileCheck | undefined;
const warnings: string[] = [];
const log = { warn: (message: string) => void warnings.push(message) };

const value = async (metric: { get(): Promise<{ values: { value: number; labels: object }[] }> }) =>
  (await metric.get()).values;

beforeAll(async () => {
  db = await createTestDatabase();
  const userId = (await createAccount(db.orm.em.fork(), {
    username: 'saver',
    passwordHash: 'x',
    role: 'user',
  }))!;
  await deposit(db.orm.em.fork(), userId, 10_000n);
});
afterEach(async () => check?.stop());
afterAll(async () => db?.drop());

it('exports no failures and the time of a clean check', async () => {
  metrics = createWorkerMetrics();
  const before = Date.now() / 1000;
  check = startReconcileCheck(db.orm, metrics, 60_000, log);
  await eventually(
    () => value(metrics.reconcileRuns),
    (v) => v.length > 0,
  );
  expect(await value(metrics.reconcileRuns)).toEqual([{ labels: { outcome: 'ok' }, value: 1 }]);
  expect((await value(metrics.reconcileFailures))[0]!.value).toBe(0);
  expect((await value(metrics.reconcileLastSuccess))[0]!.value).toBeGreaterThanOrEqual(before);
});

it('counts a wallet that no longer equals its ledger, and keeps the last clean time', async () => {
  await db.orm.em.fork().execute('update wallets set balance = balance + 1');
  metrics = createWorkerMetrics();
  check = startReconcileCheck(db.orm, metrics, 60_000, log);
  await eventually(
    () => value(metrics.reconcileRuns),
    (v) => v.length > 0,
  );
  expect(await value(metrics.reconcileRuns)).toEqual([{ labels: { outcome: 'failed' }, value: 1 }]);
  expect((await value(metrics.reconcileFailures))[0]!.value).toBe(1);
  expect((await value(metrics.reconcileLastSuccess))[0]!.value).toBe(0);
  expect(warnings).toContainEqual(expect.stringMatching(/found disagreements/));
  await db.orm.em.fork().execute('update wallets set balance = balance - 1');
});

it('counts a check that cannot run as an error', async () => {
  metrics = createWorkerMetrics();
  const closed = await createTestDatabase();
  await closed.drop();
  check = startReconcileCheck(closed.orm, metrics, 60_000, log);
  await eventually(
    () => value(metrics.reconcileRuns),
    (v) => v.length > 0,
  );
  expect(await value(metrics.reconcileRuns)).toEqual([{ labels: { outcome: 'error' }, value: 1 }]);
  expect((await value(metrics.reconcileLastSuccess))[0]!.value).toBe(0);
});
