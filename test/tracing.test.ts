import { spawn, type ChildProcess } from 'node:child_process';
import { connectClient } from '../src/temporal/connection.js';
import getPort from 'get-port';
import { Client } from '@temporalio/client';
import { waitForPort } from '../tools/temporal-dev-server.js';
import { seed } from '../src/services/seed.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { ADMIN, SIMULATOR_KEYS, TEST_PASSWORD_HASH_COST, USER_PASSWORD, eventually } from './support/api.js';
import { quietRuntime, startSimulator, type Simulator } from './support/pipeline.js';
import { workflowCode } from './support/workflow-bundle.js';
import { Worker } from '@temporalio/worker';
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Resource } from '@opentelemetry/resources';
import { workflowsPath } from '../src/worker/worker.js';
import { useTestPasswordHashCost } from './support/api.js';
import { startOtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.js';
import { poolQuery, poolWorkflowId } from '../src/workflows/definitions.js';

/**
 * The API and the worker as they run in production (their own processes, started by main.ts),
 * exporting over OTLP/HTTP to a receiver in this test: what a collector would be sent.
 */
const SERVER = 2;
const CLIENT = 3;

let db: TestDatabase;
let sim: Simulator;
let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
const children: { child: ChildProcess; output: () => string }[] = [];
const namespace = `test-${process.env.JEST_WORKER_ID ?? '1'}`;
let apiUrl: string;
let api: ReturnType<typeof start>;
const metricsPorts: number[] = [];
/** The workflows the traced run made, replayed below. */
const workflowIds: string[] = [];

function start(script: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  children.push({ child, output: () => output });
  return { child, output: () => output };
}

async function ready(process: ReturnType<typeof start>, port: number) {
  const exited = new Promise((_, reject) =>
    process.child.once('exit', () => reject(new Error(`exited during start-up:\n${process.output()}`))),
  );
  await Promise.race([waitForPort(port, '127.0.0.1', 60_000), exited]);
}

beforeAll(async () => {
  useTestPasswordHashCost();
  receiver = await startOtlpReceiver();
  db = await createTestDatabase();
  await seed(db.orm.em.fork(), ADMIN);
  sim = await startSimulator();
  const [apiPort, apiMetricsPort, workerMetricsPort, sdkMetricsPort] = [
    await getPort(),
    await getPort(),
    await getPort(),
    await getPort(),
  ];
  metricsPorts.push(apiMetricsPort, workerMetricsPort);
  const env = {
    ...process.env,
    APP_ENV: 'test',
    LOG_LEVEL: 'warn',
    JWT_SECRET: 'tracing-test-signing-key-8c1f4b7e2a5d9c3f6b0e1a4d',
    ADMIN_PASSWORD: ADMIN.password,
    ...TEST_PASSWORD_HASH_COST,
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TASK_QUEUE: `tracing-${process.pid}`,
    PLACEMENT_TIMEOUT: '30s',
    RATE_LIMIT_ENABLED: 'false',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    // Export within a fraction of a second rather than the default 5 s.
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
  const worker = start('src/worker/main.ts', {
    ...env,
    EXCHANGE_URL: sim.url,
    ...SIMULATOR_KEYS,
    EXCHANGE_RECV_WINDOW: '1s',
    API_HOST: '127.0.0.1',
    WORKER_METRICS_PORT: String(workerMetricsPort),
    WORKER_SDK_METRICS_PORT: String(sdkMetricsPort),
  });
  api = start('src/api/main.ts', {
    ...env,
    API_HOST: '127.0.0.1',
    API_PORT: String(apiPort),
    API_METRICS_PORT: String(apiMetricsPort),
    // The API's spans wait in its buffer until shutdown flushes them (asserted below).
    OTEL_BSP_SCHEDULE_DELAY: '600000',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10000',
    OTEL_BSP_MAX_QUEUE_SIZE: '10000',
  });
  await Promise.all([ready(worker, workerMetricsPort), ready(api, apiPort)]);
  apiUrl = `http://127.0.0.1:${apiPort}/api/v1`;
}, 120_000);

afterAll(async () => {
  // SIGTERM: each process flushes its spans and exits through its shutdown.
  for (const { child } of children) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) await exited;
  }
  // The pool workflow and the price schedule outlive the worker: other files share the namespace.
  const connection = await connectClient({ address: process.env.TEST_TEMPORAL_ADDRESS });
  try {
    const client = new Client({ connection, namespace });
    for await (const wf of client.workflow.list({ query: 'ExecutionStatus="Running"' })) {
      await client.workflow.getHandle(wf.workflowId, wf.runId).terminate('test finished');
    }
    for await (const schedule of client.schedule.list()) {
      await client.schedule.getHandle(schedule.scheduleId).delete();
    }
  } finally {
    await connection.close();
  }
  await sim?.app.close();
  await receiver?.close();
  await db?.drop();
}, 60_000);

async function call(method: string, path: string, token?: string, body?: unknown) {
  const response = await fetch(`${apiUrl}/${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** The spans received so far, looked up by what the assertions need. */
class Spans {
  constructor(readonly all: ReceivedSpan[]) {}
  one(predicate: (span: ReceivedSpan) => boolean, what: string): ReceivedSpan {
    const found = this.all.filter(predicate);
    if (found.length !== 1) {
      const names = this.all.map((s) => `${s.service} ${s.name} ${s.spanId}<-${s.parentSpanId ?? 'root'}`);
      throw new Error(`${found.length} spans for ${what}; received:\n${names.join('\n')}`);
    }
    return found[0]!;
  }
  child(parent: ReceivedSpan, name: string): ReceivedSpan {
    return this.one(
      (s) => s.parentSpanId === parent.spanId && s.name === name,
      `${name} under ${parent.name}`,
    );
  }
  children(parent: ReceivedSpan): ReceivedSpan[] {
    return this.all.filter((s) => s.parentSpanId === parent.spanId);
  }
  /** Every span under `root`, at any depth. */
  below(root: ReceivedSpan): ReceivedSpan[] {
    const found: ReceivedSpan[] = [];
    const visit = (span: ReceivedSpan) =>
      this.children(span).forEach((c) => {
        found.push(c);
        visit(c);
      });
    visit(root);
    return found;
  }
  trace(traceId: string): ReceivedSpan[] {
    return this.all.filter((s) => s.traceId === traceId);
  }
}

/** The HTTP request placing `orderId`, its Temporal client span and the order's workflow span. */
function placement(spans: Spans, orderId: number) {
  const start = spans.one(
    (s) => s.name === 'StartWorkflow:orderWorkflow' && s.attributes.temporalWorkflowId === `order-${orderId}`,
    `the start of order-${orderId}`,
  );
  const http = spans.one((s) => s.spanId === start.parentSpanId, `the request starting order-${orderId}`);
  const run = spans.child(start, 'RunWorkflow:orderWorkflow');
  return { http, start, run };
}

/** An activity the workflow span scheduled, and its execution in the worker. */
function activity(spans: Spans, workflow: ReceivedSpan, type: string): ReceivedSpan {
  return spans.child(spans.child(workflow, `StartActivity:${type}`), `RunActivity:${type}`);
}

const isSql = (s: ReceivedSpan) => s.kind === CLIENT && s.attributes['db.system'] === 'postgresql';

/** The ids of the orders waiting in the ABAN pool (none while it cannot answer). */
async function pooledIds(): Promise<number[]> {
  const connection = await connectClient({ address: process.env.TEST_TEMPORAL_ADDRESS });
  try {
    const pool = new Client({ connection, namespace }).workflow.getHandle(poolWorkflowId('ABAN'));
    return (await pool.query(poolQuery)).orders.map((o) => o.orderId);
  } catch {
    return [];
  } finally {
    await connection.close();
  }
}

it('follows an order from POST orders/ to the SQL and the exchange, and links pooled orders to their batch', async () => {
  const username = `tracer${process.pid}`;
  const registered = await call('POST', 'accounts/auth/register/', undefined, {
    username,
    password: USER_PASSWORD,
  });
  expect(registered.status).toBe(201);
  const token: string = registered.body.access;
  expect((await call('PATCH', 'accounts/wallet/deposit/', token, { amount: '100.00' })).status).toBe(200);

  const alone = await call('POST', 'orders/', token, { crypto: 'ABAN', amount: 3 });
  expect(alone.status).toBe(201);
  expect(alone.body.total_price).toBe('12.00');
  // Two orders of 6.00 fill the 10.00 pool: one batch buys both.
  const pooled = [
    await call('POST', 'orders/', token, { crypto: 'ABAN', amount: '1.5' }),
    await call('POST', 'orders/', token, { crypto: 'ABAN', amount: '1.5' }),
  ];
  for (const res of pooled) expect(res.body.state).toBe('aggregated');
  const ids = [alone.body.id as number, ...pooled.map((r) => r.body.id as number)];
  workflowIds.push(...ids.map((id) => `order-${id}`), poolWorkflowId('ABAN'));
  for (const id of ids) {
    await eventually(
      () => call('GET', `orders/${id}/`, token),
      (r) => r.body.state === 'completed',
      30_000,
    );
  }

  // An order left waiting in the pool: the pool keeps its trace link, and shows nothing of it.
  const waiting = await call('POST', 'orders/', token, { crypto: 'ABAN', amount: 1 });
  expect(waiting.body.state).toBe('aggregated');
  // Its debit's activity may still be gathering it into a signal (POOL_FEED_LINGER): the worker
  // stops below only once the pool holds it.
  await eventually(
    () => pooledIds(),
    (pooled) => pooled.includes(waiting.body.id as number),
    30_000,
  );

  // Scrapes (the API's gauges read Postgres, the worker's /metrics fetches the SDK's) trace nothing.
  for (const port of metricsPorts) {
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
  }

  // The API exports nothing before its shutdown flushes the buffer.
  expect(receiver.spans.filter((s) => s.service === 'crypto-purchase-api')).toEqual([]);
  const exited = new Promise((resolve) => api.child.once('exit', (code) => resolve(code)));
  api.child.kill('SIGTERM');
  expect(await exited).toBe(0);

  // The worker's spans arrive in batches, a workflow's once its task completes: wait for the last.
  const spans = await eventually(
    async () => new Spans([...receiver.spans]),
    (s) => {
      try {
        const debit = activity(s, placement(s, ids[0]!).run, 'debitOrder');
        if (!s.below(debit).some((span) => span.kind === CLIENT && !isSql(span))) return false;
        s.one((span) => span.name === 'BuyBatch', 'the batch');
        return s
          .trace(s.one((span) => span.name === 'BuyBatch', 'the batch').traceId)
          .some((span) => span.name.startsWith('RunActivity:completeBatch'));
      } catch {
        return false;
      }
    },
    30_000,
  ).catch(() => new Spans([...receiver.spans]));

  // The order bought alone: request → client → workflow → activities → SQL and the exchange.
  const order = placement(spans, ids[0]!);
  expect(order.http).toMatchObject({
    service: 'crypto-purchase-api',
    kind: SERVER,
    name: 'POST /api/v1/orders/',
    parentSpanId: undefined,
  });
  expect(order.http.attributes['http.route']).toBe('/api/v1/orders/');
  expect(order.start.service).toBe('crypto-purchase-api');
  expect(order.run.service).toBe('crypto-purchase-worker');

  const debit = activity(spans, order.run, 'debitOrder');
  const debitSql = spans.below(debit).filter(isSql);
  expect(debitSql.length).toBeGreaterThan(0);
  expect(debitSql.map((s) => s.attributes['db.statement']).join('\n')).toMatch(/update "?wallets"?/i);

  // The debit's activity goes on with the buy and the completion (src/activities/after-debit.ts).
  const exchangeCalls = spans.below(debit).filter((s) => s.kind === CLIENT && !isSql(s));
  expect(exchangeCalls.map((s) => s.attributes['url.full'])).toContainEqual(
    expect.stringContaining(`${sim.url}/api/v3/order`),
  );
  expect(debitSql.map((s) => s.attributes['db.statement']).join('\n')).toMatch(
    /insert into "?exchange_purchases"?/i,
  );

  // One trace, from the request to the last activity.
  const traced = [order.http, order.start, order.run, debit, ...debitSql, ...exchangeCalls];
  expect(new Set(traced.map((s) => s.traceId))).toEqual(new Set([order.http.traceId]));
  // The request's own SQL (the order id reserved before the workflow starts) is in it too.
  expect(spans.children(order.http).some(isSql)).toBe(true);

  // The pooled orders: each debit's activity puts its order in the pool (src/activities/after-debit.ts),
  // in a signal the two may share (src/activities/pool-feed.ts), which the pool handles; the batch, a
  // trace of its own, links to both orders' traces where they joined.
  const enqueues = ids.slice(1).map((id) => {
    const placed = placement(spans, id);
    const enqueue = activity(spans, placed.run, 'debitOrder');
    expect(enqueue.traceId).toBe(placed.http.traceId);
    return enqueue;
  });
  const signals = enqueues.flatMap((enqueue) =>
    spans.children(enqueue).filter((s) => s.name === 'SignalWithStartWorkflow:poolWorkflow'),
  );
  expect(signals.length).toBeGreaterThanOrEqual(1);
  for (const signal of signals) {
    const handled = spans.child(signal, 'HandleSignal:addOrders');
    expect([handled.service, handled.traceId]).toEqual(['crypto-purchase-worker', signal.traceId]);
  }
  const batch = spans.one((s) => s.name === 'BuyBatch', 'the batch');
  expect(batch.parentSpanId).toBeUndefined();
  expect(batch.attributes['batch.orders']).toBe(2);
  expect(batch.links).toEqual(
    expect.arrayContaining(enqueues.map(({ traceId, spanId }) => ({ traceId, spanId }))),
  );
  expect(enqueues.map((s) => s.traceId)).not.toContain(batch.traceId);
  const batchBuy = activity(spans, batch, 'buyBatch');
  expect(batchBuy.traceId).toBe(batch.traceId);
  expect(spans.below(batchBuy).some((s) => s.kind === CLIENT)).toBe(true);
  expect(spans.below(activity(spans, batch, 'completeBatch')).some(isSql)).toBe(true);

  // Every trace starts at a request, a batch or a scheduled workflow: nothing the processes do on
  // their own (start-up, metrics scrapes) makes traces of its own.
  const roots = spans.all.filter((s) => s.parentSpanId === undefined).map((s) => `${s.service} ${s.name}`);
  for (const root of new Set(roots)) {
    expect(root).toMatch(
      /^(crypto-purchase-api (GET|POST|PATCH) \/api\/v1\/\S+|crypto-purchase-worker (BuyBatch|RunWorkflow:refreshPricesWorkflow))$/,
    );
  }

  const connection = await connectClient({ address: process.env.TEST_TEMPORAL_ADDRESS });
  try {
    const pool = new Client({ connection, namespace }).workflow.getHandle(poolWorkflowId('ABAN'));
    const view = await pool.query(poolQuery);
    expect(view.orders.map((o) => Object.keys(o).sort())).toEqual([
      ['added_at', 'amount', 'orderId', 'total'],
    ]);
  } finally {
    await connection.close();
  }
}, 120_000);

it('histories made with tracing replay without it, and with it', async () => {
  expect(workflowIds).toHaveLength(4);
  quietRuntime();
  const connection = await connectClient({ address: process.env.TEST_TEMPORAL_ADDRESS });
  const histories = [];
  try {
    const client = new Client({ connection, namespace });
    for (const id of workflowIds)
      histories.push({ id, history: await client.workflow.getHandle(id).fetchHistory() });
  } finally {
    await connection.close();
  }
  // A worker restarted without OTEL_EXPORTER_OTLP_ENDPOINT: the run's bundle, no interceptors.
  const untraced = { workflowBundle: await workflowCode() };
  // One restarted with it: bundled with the plugin's workflow interceptors, as the worker does.
  const plugin = new OpenTelemetryPlugin({
    resource: Resource.empty(),
    spanProcessor: new NoopSpanProcessor(),
  });
  const withTracing = { workflowsPath, plugins: [plugin] };
  for (const options of [untraced, withTracing]) {
    for (const { id, history } of histories) {
      await expect(Worker.runReplayHistory(options, history, id)).resolves.toBeUndefined();
    }
  }
}, 120_000);
