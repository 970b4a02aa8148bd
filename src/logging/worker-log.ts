import { pino, type DestinationStream, type Level } from 'pino';
import { asyncLocalStorage } from '@temporalio/activity';
import {
  LogTimestamp,
  type LogExporterConfig,
  type LogLevel,
  type LogMetadata,
  type Logger,
} from '@temporalio/worker';
import { orderIdOf } from '../workflows/definitions.js';

const LEVELS: Record<LogLevel, Level> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * What the worker installs in Temporal's Runtime: `logger` writes pino JSON lines with the API's
 * field names (level, time, msg, orderId, workflowId...); the SDK core's own lines (warnings and up,
 * rare) are JSON written by the core. Forwarding them into `logger` instead puts every line through
 * a buffer flushed on a timer, and made a worker stopped by `make dev` exit on the relayed second
 * SIGTERM before it had drained.
 */
export function runtimeLogging(
  level: string,
  destination?: DestinationStream,
): { logger: Logger; core: LogExporterConfig } {
  return {
    logger: pinoLogger(level, destination),
    core: { filter: { core: 'WARN' }, console: { format: 'json' } },
  };
}

/** Temporal's Logger interface over pino. */
export function pinoLogger(level: string, destination?: DestinationStream): Logger {
  // A workflow's line carries the workflow's clock (its activation's time), as Temporal's own logger shows.
  let madeAt: number | undefined;
  const log = pino({ level, timestamp: () => `,"time":${madeAt ?? Date.now()}` }, destination);
  const write = (logLevel: LogLevel, message: string, meta: LogMetadata = {}): void => {
    const nanos: unknown = meta[LogTimestamp];
    madeAt = typeof nanos === 'bigint' ? Number(nanos / 1_000_000n) : undefined;
    try {
      log[LEVELS[logLevel]](fields(meta), message);
    } finally {
      madeAt = undefined;
    }
  };
  return {
    log: write,
    trace: (message, meta) => write('TRACE', message, meta),
    debug: (message, meta) => write('DEBUG', message, meta),
    info: (message, meta) => write('INFO', message, meta),
    warn: (message, meta) => write('WARN', message, meta),
    error: (message, meta) => write('ERROR', message, meta),
  };
}

/**
 * A line's fields from Temporal's metadata (an activity's or workflow's adds workflowId, activityType,
 * attempt...): an error goes under `err`, as in the API, for pino's serializer (type, message,
 * stack); a line about an order's workflow also gets its `orderId`; the activity's task token is
 * left out, since whoever reads the logs could complete the activity with it.
 */
function fields(meta: LogMetadata): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) {
    if (key === 'taskToken') continue;
    out[key === 'error' && value instanceof Error ? 'err' : key] = value;
  }
  if (out.orderId === undefined && typeof out.workflowId === 'string') {
    const orderId = orderIdOf(out.workflowId);
    if (orderId !== undefined) out.orderId = orderId;
  }
  return out;
}

/**
 * Inside an activity, that activity's logger (its workflow and order ids on every line); anywhere
 * else, `fallback`. For code the activities call that is handed a logger once, like the exchange driver.
 */
export function activityAware(fallback: Logger): Logger {
  const current = (): Logger => asyncLocalStorage.getStore()?.log ?? fallback;
  return {
    log: (level, message, meta) => current().log(level, message, meta),
    trace: (message, meta) => current().trace(message, meta),
    debug: (message, meta) => current().debug(message, meta),
    info: (message, meta) => current().info(message, meta),
    warn: (message, meta) => current().warn(message, meta),
    error: (message, meta) => current().error(message, meta),
  };
}
