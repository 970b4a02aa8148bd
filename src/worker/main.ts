import { tracing } from './tracing.js';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { fraudConfig, loadEnv } from '../config/env.js';
import { exchangeOptions } from '../config/exchange.js';
import { createCcxtExchange } from '../exchange/ccxt-exchange.js';
import { connectTemporal, openDatabase } from '../runtime/resources.js';
import { onShutdown } from '../runtime/shutdown.js';
import { createWorkerMetrics, serveWorkerMetrics } from '../metrics/worker-metrics.js';
import { sdkMetricsExporter } from '../metrics/sdk-metrics.js';
import { startReconcileCheck } from '../metrics/reconcile-check.js';
import { createWorker } from './worker.js';
import { ensurePriceSchedule } from './schedules.js';
import { requireSearchAttributes } from './search-attributes.js';
import { activityAware, runtimeLogging } from '../logging/worker-log.js';

const env = loadEnv();
const exchangeSettings = exchangeOptions(env);
const metrics = createWorkerMetrics();
const logging = runtimeLogging(env.LOG_LEVEL);
// Signals are ours to handle (below), not the SDK's: one shutdown closes the worker and then the rest.
Runtime.install({
  shutdownSignals: [],
  logger: logging.logger,
  telemetryOptions: {
    logging: logging.core,
    // The SDK's runtime metrics (task latencies, slots, sticky cache...) come from its Rust core.
    ...(env.WORKER_METRICS_PORT && { metrics: sdkMetricsExporter(env.WORKER_SDK_METRICS_PORT) }),
  },
});
const orm = await openDatabase(env);
const {
  connection: clientConnection,
  client,
  settings: temporal,
} = await connectTemporal(env, tracing.temporalPlugins);
const connection = await NativeConnection.connect(temporal.connectionOptions);

const worker = await createWorker({
  connection,
  namespace: temporal.namespace,
  taskQueue: env.TEMPORAL_TASK_QUEUE,
  orm,
  temporal: client,
  exchange: createCcxtExchange({ ...exchangeSettings, logger: activityAware(Runtime.instance().logger) }),
  aggregationThreshold: env.AGGREGATION_THRESHOLD,
  aggregationMaxWaitMs: env.AGGREGATION_MAX_WAIT,
  poolFeedLingerMs: env.POOL_FEED_LINGER,
  poolSettleWaitMs: env.POOL_SETTLE_WAIT,
  maxOrderTotal: env.MAX_AMOUNT,
  fraud: fraudConfig(env),
  reviewTimeoutMs: env.FRAUD_REVIEW_TIMEOUT,
  metrics,
  plugins: tracing.temporalPlugins,
});
await requireSearchAttributes(clientConnection, temporal.namespace, Runtime.instance().logger);
await ensurePriceSchedule(client, env.TEMPORAL_TASK_QUEUE, env.PRICE_REFRESH_INTERVAL);
const metricsServer = env.WORKER_METRICS_PORT
  ? serveWorkerMetrics(
      metrics,
      env.WORKER_METRICS_PORT,
      env.API_HOST,
      `http://127.0.0.1:${env.WORKER_SDK_METRICS_PORT}/metrics`,
    )
  : undefined;
const reconcileCheck = startReconcileCheck(orm, metrics, env.RECONCILE_INTERVAL, Runtime.instance().logger);

const running = worker.run();
// No deadline: the worker stops polling at once and waits for its in-flight tasks to drain.
onShutdown(
  async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running.catch(() => undefined);
    await reconcileCheck.stop();
    metricsServer?.close();
    await clientConnection.close();
    await connection.close();
    await orm.close();
    await tracing.shutdown();
  },
  {
    info: (message) => logging.logger.info(message),
    error: (error) => logging.logger.error('shutdown failed', { error }),
  },
  false,
);
await running;
