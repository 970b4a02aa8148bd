import { readFileSync, readdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import getPort from 'get-port';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { parse } from 'yaml';
import { serveApiMetrics } from '../src/metrics/api-metrics.js';
import { serveWorkerMetrics } from '../src/metrics/worker-metrics.js';
import { sdkMetricsExporter } from '../src/metrics/sdk-metrics.js';
import { startReconcileCheck, type ReconcileCheck } from '../src/metrics/reconcile-check.js';
import { ADMIN, eventually, fundedUser, login, startApi, type TestApi } from './support/api.js';
import { exposedNames, metricNames } from './support/promql.js';

const deployments = new URL('../deployments/', import.meta.url);
const dashboardsDir = new URL('grafana/dashboards/', deployments);
/** Prometheus adds `up` to every scrape, and the job and instance labels to every series. */
const TARGET_LABELS = ['job', 'instance'];

interface Panel {
  title: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

const dashboards = readdirSync(dashboardsDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, json: JSON.parse(readFileSync(new URL(f, dashboardsDir), 'utf8')) }));

/** [where, expression] for every query of every panel (rows included) of every dashboard. */
function dashboardExpressions(): [string, string][] {
  const walk = (file: string, panels: Panel[]): [string, string][] =>
    panels.flatMap((p) => [
      ...(p.targets ?? [])
        .filter((t) => t.expr)
        .map((t): [string, string] => [`${file}: ${p.title}`, t.expr!]),
      ...walk(file, p.panels ?? []),
    ]);
  return dashboards.flatMap((d) => walk(d.file, d.json.panels));
}

function ruleExpressions(): [string, string][] {
  const dir = new URL('prometheus/', deployments);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.rules.yml'))
    .flatMap((f) =>
      (
        parse(readFileSync(new URL(f, dir), 'utf8')) as {
          groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
        }
      ).groups.flatMap((g) =>
        g.rules.map((r): [string, string] => [`${f}: ${r.alert ?? r.record}`, String(r.expr)]),
      ),
    );
}

let api: TestApi;
let sdkPort: number;
const servers: Server[] = [];
let reconcileCheck: ReconcileCheck | undefined;
const seen = new Map<string, Set<string>>([['up', new Set(TARGET_LABELS)]]);
const endpoints: string[] = [];

const listening = async (server: Server) => {
  await new Promise((r) => server.once('listening', r));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
};

/** Scrapes every endpoint and remembers every metric name seen (series come and go, e.g. pools). */
async function scrape(): Promise<Map<string, Set<string>>> {
  for (const url of endpoints) {
    const text = await (await fetch(url)).text();
    for (const [name, labels] of exposedNames(text)) {
      seen.set(name, new Set([...(seen.get(name) ?? []), ...labels, ...TARGET_LABELS]));
    }
  }
  return seen;
}

beforeAll(async () => {
  sdkPort = await getPort();
  // The worker's runtime as src/worker/main.ts installs it: the SDK exports its metrics.
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { metrics: sdkMetricsExporter(sdkPort) },
  });
  // No metrics cache: each scrape reads Postgres and the pools afresh.
  api = await startApi({ worker: true, env: { API_METRICS_CACHE_TTL: '0' } });
  endpoints.push(await listening(serveApiMetrics(api.app.metrics, 0, '127.0.0.1')));
  endpoints.push(
    await listening(
      serveWorkerMetrics(api.workerMetrics!, 0, '127.0.0.1', `http://127.0.0.1:${sdkPort}/metrics`),
    ),
  );
  reconcileCheck = startReconcileCheck(api.db.orm, api.workerMetrics!, 60_000, { warn: () => undefined });
});

afterAll(async () => {
  await reconcileCheck?.stop();
  for (const server of servers) server.close();
  await api?.close();
});

const buy = (token: string, crypto: string, amount: string) =>
  api.call('POST', 'orders/', { token, body: { crypto, amount } });
const orderState = async (token: string, id: number) =>
  (await api.call('GET', `orders/${id}/`, { token })).body.state as string;

it('orders of every kind make their series exist', async () => {
  const user = await fundedUser(api, '100.00');
  // Alone, through an exchange that fails first: an exchange error, then a completed purchase.
  await api.sim!.setFaults({ failure_rate: 1 });
  const alone = await buy(user.access, 'ABAN', '3');
  expect(alone.status).toBe(201);
  // Both quick tries fail, so the buy is retried as a regular activity (schedule-to-start).
  const exchangeErrors = async () =>
    (await api.workerMetrics!.exchangeErrors.get()).values.reduce((sum, v) => sum + v.value, 0);
  await eventually(exchangeErrors, (n) => n >= 2);
  await eventually(scrape, (names) => names.has('exchange_errors_total'));
  await api.sim!.setFaults({ failure_rate: 0 });
  await eventually(
    () => orderState(user.access, alone.body.id),
    (s) => s === 'completed',
  );

  // Pooled: one order waits (the pool's oldest order), the next fills the batch.
  const first = await buy(user.access, 'ABAN', '1');
  expect(first.body.state).toBe('aggregated');
  await eventually(scrape, (names) => names.has('pool_oldest_order_timestamp_seconds'));
  const second = await buy(user.access, 'ABAN', '2');
  await eventually(
    () => orderState(user.access, second.body.id),
    (s) => s === 'completed',
  );

  // Refused by the debit, and held by the fraud rules (a new account's large order), then rejected.
  expect((await buy(user.access, 'BTC', '1')).status).toBe(422);
  const rich = await fundedUser(api, '1000.00');
  const held = await buy(rich.access, 'ABAN', '150');
  expect(held.body.state).toBe('held');
  await eventually(scrape, (names) => names.has('orders_held_oldest_timestamp_seconds'));
  const admin = await login(api, ADMIN.username, ADMIN.password);
  expect((await api.call('POST', `admin/orders/${held.body.id}/reject/`, { token: admin })).status).toBe(200);

  await eventually(scrape, (names) =>
    [
      'orders_settled_total',
      'order_settle_duration_seconds_bucket',
      'order_refunds_total',
      'batches_settled_total',
      'reconcile_last_success_timestamp_seconds',
    ].every((n) => names.has(n)),
  );
  // Each order counted once, in its final state, though the first buy was retried.
  const settled = (await api.workerMetrics!.ordersSettled.get()).values.map((v) => [
    v.labels.state,
    v.labels.route,
    v.value,
  ]);
  expect(settled.sort()).toEqual([
    ['completed', 'alone', 1],
    ['completed', 'pooled', 2],
    ['failed', 'review', 1],
    ['rejected', 'none', 1],
  ]);
  expect((await api.workerMetrics!.refunds.get()).values).toEqual([
    { labels: { route: 'review' }, value: 1 },
  ]);
});

it.each([
  ['dashboard', dashboardExpressions],
  ['alert rules', ruleExpressions],
])('every expression of the %s parses and uses only metrics the processes export', async (_, read) => {
  const expressions = read();
  const names = await scrape();
  expect(expressions.length).toBeGreaterThan(5);
  const problems = expressions.flatMap(([where, expr]) => {
    const { names: used, matchers, errors } = metricNames(expr);
    return [
      ...errors.map((e) => `${where}: ${e}`),
      ...used.filter((n) => !names.has(n)).map((n) => `${where}: ${n} is exported by nothing`),
      ...matchers
        .filter(({ metric, label }) => names.has(metric) && !names.get(metric)!.has(label))
        .map(({ metric, label }) => `${where}: ${metric} has no label ${label}`),
    ];
  });
  expect(problems).toEqual([]);
});

it('the check itself fails on a metric nothing exports, and on PromQL that does not parse', async () => {
  const names = await scrape();
  expect(names.has('orders_settled_totl')).toBe(false);
  expect(metricNames('sum(rate(orders_settled_totl[5m]))').names).toEqual(['orders_settled_totl']);
  expect(metricNames('sum(rate(orders_settled_total[5m])').errors).not.toEqual([]);
  expect(metricNames('{__name__=~"orders.*"}').errors).not.toEqual([]);
  expect(names.get('orders_settled_total')).not.toContain('outcome');
  expect(metricNames('orders_settled_total{outcome="completed"}').matchers).toEqual([
    { metric: 'orders_settled_total', label: 'outcome' },
  ]);
});
