import { subscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import type { ClientPlugin } from '@temporalio/client';
import type { WorkerPlugin } from '@temporalio/worker';
import { loadEnv, type Env } from '../config/env.js';
import { redactUrl } from '../logging/redact-url.js';

/** The attributes of an HTTP server span that hold the query string, old and new conventions. */
const URL_ATTRIBUTES = ['http.url', 'http.target', 'url.full', 'url.query'];

/** What a process needs from tracing: the Temporal plugin to register, and a flush on exit. */
export interface Tracing {
  enabled: boolean;
  /** For the Temporal client and the worker; empty when tracing is off. */
  temporalPlugins: (ClientPlugin & WorkerPlugin)[];
  /** Exports the spans still buffered; call last on shutdown. */
  shutdown(): Promise<void>;
}

const off: Tracing = { enabled: false, temporalPlugins: [], shutdown: async () => undefined };

export const tracingEnabled = (env: Env): boolean =>
  Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);

/**
 * Starts OpenTelemetry tracing when an OTLP endpoint is configured, else does nothing and loads
 * nothing. Synchronous on purpose: imported first by a process's entry module, it has registered
 * the instrumentations before any later import evaluates, with no top-level await letting sibling
 * imports run first.
 */
export function startTracing(defaultServiceName: string, env: Env = loadEnv()): Tracing {
  if (!tracingEnabled(env)) return off;
  // The SDK is CommonJS; requiring it keeps start-up synchronous and off the path of a process
  // that does not trace.
  const require = createRequire(import.meta.url);
  const { NodeTracerProvider, BatchSpanProcessor } =
    require('@opentelemetry/sdk-trace-node') as typeof import('@opentelemetry/sdk-trace-node');
  const { OTLPTraceExporter } =
    require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { Resource, envDetectorSync } =
    require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { registerInstrumentations } =
    require('@opentelemetry/instrumentation') as typeof import('@opentelemetry/instrumentation');
  const { HttpInstrumentation } =
    require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { UndiciInstrumentation } =
    require('@opentelemetry/instrumentation-undici') as typeof import('@opentelemetry/instrumentation-undici');
  const { PgInstrumentation } =
    require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const { OpenTelemetryPlugin } =
    require('@temporalio/interceptors-opentelemetry') as typeof import('@temporalio/interceptors-opentelemetry');

  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (read by the env detector) win over the default.
  const resource = Resource.default()
    .merge(new Resource({ 'service.name': defaultServiceName }))
    .merge(envDetectorSync.detect());
  // The exporter reads the endpoint, headers and timeout from OTEL_EXPORTER_OTLP_*; the processor
  // its batching from OTEL_BSP_*; the provider the sampler from OTEL_TRACES_SAMPLER*.
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register();

  const unprobed = new Set(['/healthz', '/readyz', '/metrics']);
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      // Health probes and scrapes are not traced, nor what they do (an ignored request suppresses
      // tracing below it). Calls and SQL outside any traced operation are left out too, rather
      // than each becoming a trace of its own.
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => unprobed.has(request.url?.split('?')[0] ?? ''),
        requireParentforOutgoingSpans: true,
        // A token in the query string (the order event stream takes one) stays out of the trace.
        requestHook: (span) => {
          // The SDK's spans expose the attributes the instrumentation set when it started them.
          const attributes = (span as { attributes?: Record<string, unknown> }).attributes ?? {};
          for (const key of URL_ATTRIBUTES) {
            const value = attributes[key];
            if (typeof value !== 'string') continue;
            const redacted = key === 'url.query' ? redactUrl(`?${value}`).slice(1) : redactUrl(value);
            if (redacted !== value) span.setAttribute(key, redacted);
          }
        },
      }),
      // ccxt calls the exchange with Node's fetch.
      new UndiciInstrumentation({ requireParentforSpans: true }),
      new PgInstrumentation({ requireParentSpan: true }),
    ],
  });
  // The instrumentations patch modules as `require` loads them, and whether an ESM `import` of a
  // CommonJS package passes through `require` depends on the loader. Requiring them here patches
  // the shared exports (pg's prototypes, http's server) whichever way the application imports them.
  require('node:http');
  require('pg');
  nameServerSpansByRoute(require);

  // Workflow spans reach the same processor through the plugin's sink.
  const plugin = new OpenTelemetryPlugin({ resource, spanProcessor });
  return {
    enabled: true,
    temporalPlugins: [plugin],
    shutdown: () => provider.shutdown(),
  };
}

/**
 * The HTTP span is named by method and route (`POST /api/v1/orders/`) rather than the method alone:
 * Fastify announces each handler on a diagnostics channel, inside the request's context.
 */
function nameServerSpansByRoute(require: NodeJS.Require): void {
  const { context } = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  const { getRPCMetadata, RPCType } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  subscribe('tracing:fastify.request.handler:start', (message) => {
    const route = (message as { request?: { routeOptions?: { url?: string } } }).request?.routeOptions?.url;
    const rpc = getRPCMetadata(context.active());
    if (route && rpc?.type === RPCType.HTTP) rpc.route = route;
  });
}
