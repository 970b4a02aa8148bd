import { trace } from '@opentelemetry/api';
import { loadEnv } from '../src/config/env.js';
import { startTracing, tracingEnabled } from '../src/telemetry/tracing.js';

describe('tracing off', () => {
  it('without an OTLP endpoint starts no SDK and gives Temporal no plugin', async () => {
    const tracing = startTracing('crypto-purchase-api', loadEnv({ OTEL_SERVICE_NAME: 'named-anyway' }));
    expect(tracing).toMatchObject({ enabled: false, temporalPlugins: [] });
    // No tracer provider was registered: spans record nothing.
    const span = trace.getTracer('probe').startSpan('probe');
    expect(span.isRecording()).toBe(false);
    span.end();
    await tracing.shutdown();
  });

  it('either endpoint turns it on; one that is not a URL is refused at start-up', () => {
    expect(tracingEnabled(loadEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }))).toBe(true);
    expect(
      tracingEnabled(loadEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })),
    ).toBe(true);
    expect(tracingEnabled(loadEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }))).toBe(false);
    expect(() => loadEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector 4318' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT: /,
    );
  });
});
