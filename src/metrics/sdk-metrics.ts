import type { TelemetryOptions } from '@temporalio/worker';

/**
 * The Temporal SDK core's Prometheus exporter, with names as Prometheus expects them: counters end
 * in `_total`, durations are seconds and say so (`temporal_activity_schedule_to_start_latency_seconds`).
 * Bound to loopback: the worker's own /metrics serves these after its own.
 */
export function sdkMetricsExporter(port: number): NonNullable<TelemetryOptions['metrics']> {
  return {
    prometheus: {
      bindAddress: `127.0.0.1:${port}`,
      countersTotalSuffix: true,
      unitSuffix: true,
      useSecondsForDurations: true,
    },
  };
}
