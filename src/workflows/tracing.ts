import { isSpanContextValid, trace, type SpanContext } from '@opentelemetry/api';

/**
 * A span of another trace that later work was done on behalf of. Plain data, so it travels in the
 * workflow's state and across continue-as-new.
 */
export type TraceLink = Pick<SpanContext, 'traceId' | 'spanId' | 'traceFlags'>;

/**
 * The span the workflow code is running in (a signal's handling, say), when the worker traces: the
 * OpenTelemetry interceptors install a tracer in the workflow's sandbox; without them there is no
 * span and this is undefined.
 */
export function currentTraceLink(): TraceLink | undefined {
  const span = trace.getActiveSpan()?.spanContext();
  if (!span || !isSpanContextValid(span)) return undefined;
  return { traceId: span.traceId, spanId: span.spanId, traceFlags: span.traceFlags };
}

/**
 * Runs `fn` in a new trace whose root span links to the traces of those it works for. Without the
 * interceptors the tracer is a no-op and `fn` simply runs.
 */
export function inLinkedTrace<T>(
  name: string,
  attributes: Record<string, string | number>,
  links: TraceLink[],
  fn: () => Promise<T>,
): Promise<T> {
  return trace
    .getTracer('crypto-purchase')
    .startActiveSpan(
      name,
      { root: true, attributes, links: links.map((context) => ({ context })) },
      async (span) => {
        try {
          return await fn();
        } finally {
          span.end();
        }
      },
    );
}
