import { pino } from 'pino';
import { prettyLogger } from '../scripts/pretty-log.js';

// `make dev` shows each child's pino JSON through this formatter, one prefixed line at a time.
const pretty = prettyLogger({ colorize: false });
const TIME = new Date(2026, 0, 2, 13, 4, 5, 678).getTime(); // local time, as the formatter shows it

it('shows a request as one line: time, level, method, url, status, time taken and request id', () => {
  const line = JSON.stringify({
    level: 30,
    time: TIME,
    pid: 7,
    hostname: 'box',
    reqId: 'req-1',
    orderId: 42,
    workflowId: 'order-42',
    method: 'POST',
    url: '/api/v1/orders/',
    status: 201,
    responseTime: 12.5,
    msg: 'request completed',
  });
  expect(pretty(line)).toEqual([
    '[13:04:05.678] INFO: POST /api/v1/orders/ 201 12.5 ms {"reqId":"req-1","orderId":42,"workflowId":"order-42"}',
  ]);
});

it('keeps the order and workflow ids of a worker line and drops Temporal bookkeeping', () => {
  const line = JSON.stringify({
    level: 30,
    time: TIME,
    pid: 7,
    hostname: 'box',
    sdkComponent: 'activity',
    taskQueue: 'crypto-purchase',
    namespace: 'default',
    isLocal: false,
    attempt: 1,
    activityId: '1',
    activityType: 'debitOrder',
    workflowId: 'order-42',
    workflowRunId: 'run',
    workflowType: 'orderWorkflow',
    orderId: 42,
    code: 'insufficient_funds',
    msg: 'order refused',
  });
  expect(pretty(line)).toEqual([
    '[13:04:05.678] INFO: order refused {"attempt":1,"activityType":"debitOrder","workflowId":"order-42","orderId":42,"code":"insufficient_funds"}',
  ]);
});

it('shows an error with its stack, one line of it at a time', () => {
  const written: string[] = [];
  const log = pino(
    { timestamp: () => `,"time":${TIME}` },
    { write: (chunk: string) => void written.push(chunk) },
  );
  log.error({ err: new Error('the database went away') }, 'unhandled error');
  const shown = pretty(written[0]!.trimEnd());
  expect(shown[0]).toBe('[13:04:05.678] ERROR: unhandled error');
  expect(shown.join('\n')).toContain('Error: the database went away');
  expect(shown.some((l) => /^\s+at .*pretty-log\.test\.ts/.test(l))).toBe(true);
});

it('passes anything that is not a pino line through as it is', () => {
  for (const line of ['Server listening at http://127.0.0.1:8000', '{"not":"pino"}', '{broken', ''])
    expect(pretty(line)).toEqual([line]);
});
