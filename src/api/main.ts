import { tracing } from './tracing.js';
import { loadEnv } from '../config/env.js';
import { connectTemporal, openDatabase } from '../runtime/resources.js';
import { onShutdown } from '../runtime/shutdown.js';
import { serveApiMetrics } from '../metrics/api-metrics.js';
import { buildApp } from './app.js';

const env = loadEnv();
const orm = await openDatabase(env);
const { connection, client } = await connectTemporal(env, tracing.temporalPlugins);
const app = await buildApp({ env, orm, temporal: client });
// Metrics on an internal port of their own: the public port answers /metrics with 404.
const metricsServer = env.API_METRICS_PORT
  ? serveApiMetrics(app.metrics, env.API_METRICS_PORT, env.API_METRICS_HOST)
  : undefined;

onShutdown(
  async () => {
    metricsServer?.close();
    await app.close();
    await connection.close();
    await orm.close();
    await tracing.shutdown();
  },
  { info: (message) => app.log.info(message), error: console.error },
);

await app.listen({ host: env.API_HOST, port: env.API_PORT });
