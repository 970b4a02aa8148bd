/**
 * How `make dev` shows the processes' pino JSON lines: time, level, message and the fields that
 * matter while developing, on one line; an error's stack below it. A request's line reads
 * `POST /api/v1/orders/ 201 12.3 ms`. Anything that is not a pino line is shown as it is.
 */
import { prettyFactory } from 'pino-pretty';

/** Fields every line has, or that only Temporal's own bookkeeping needs: left out in development. */
const HIDDEN = [
  'pid',
  'hostname',
  'namespace',
  'taskQueue',
  'isLocal',
  'activityId',
  'workflowRunId',
  'runId',
  'workflowType',
  'sdkComponent',
];
const REQUEST_FIELDS = ['method', 'url', 'status', 'responseTime'] as const;

export function prettyLogger(options: { colorize?: boolean } = {}): (line: string) => string[] {
  const pretty = prettyFactory({
    // Unset, pino-pretty colours when stdout is a terminal that supports it.
    ...(options.colorize !== undefined && { colorize: options.colorize }),
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: HIDDEN.join(','),
  });
  return (line) => {
    const entry = pinoEntry(line);
    if (!entry) return [line];
    if (REQUEST_FIELDS.every((key) => key in entry)) {
      const [method, url, status, responseTime] = REQUEST_FIELDS.map((key) => entry[key]);
      for (const key of REQUEST_FIELDS) delete entry[key];
      entry.msg = `${String(method)} ${String(url)} ${String(status)} ${String(responseTime)} ms`;
    }
    return pretty(entry)
      .replace(/\n$/, '')
      .split('\n')
      .map((shown) => shown.trimEnd());
  };
}

/** A pino line: a JSON object with a numeric level and time. */
function pinoEntry(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const entry = parsed as Record<string, unknown>;
    return typeof entry.level === 'number' && typeof entry.time === 'number' ? entry : undefined;
  } catch {
    return undefined;
  }
}
