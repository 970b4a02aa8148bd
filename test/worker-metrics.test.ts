import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ccxt from 'ccxt';
import { createWorkerMetrics, serveWorkerMetrics } from '../src/metrics/worker-metrics.js';
import { exchangeErrorLabels } from '../src/activities/errors.js';
import { translateError } from '../src/exchange/ccxt-errors.js';

it('the worker serves its own metrics followed by the SDK’s', async () => {
  // Stands in for the Temporal core's Prometheus exporter: a real HTTP server with its text.
  const sdk = createServer((_req, res) => res.end('temporal_workflow_completed 7\n'));
  await new Promise<void>((r) => sdk.listen(0, '127.0.0.1', r));
  const metrics = createWorkerMetrics();
  metrics.fraudDecisions.inc({ action: 'hold', rule: 'velocity' });
  const server = serveWorkerMetrics(
    metrics,
    0,
    '127.0.0.1',
    `http://127.0.0.1:${(sdk.address() as AddressInfo).port}/metrics`,
  );
  await new Promise((r) => server.once('listening', r));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/^fraud_decisions_total\{action="hold",rule="velocity"\} 1$/m);
    expect(text).toMatch(/^temporal_workflow_completed 7$/m);
    expect((await fetch(`${base}/other`)).status).toBe(404);
  } finally {
    server.close();
    sdk.close();
  }
});

it('labels exchange errors with their kind and ccxt class, as the driver translates them', () => {
  const log = { error: () => undefined, warn: () => undefined };
  const labels = (error: Error) => exchangeErrorLabels(translateError(error, 'buy', log));
  expect(labels(new ccxt.InsufficientFunds('no balance'))).toEqual({
    kind: 'rejected',
    error: 'InsufficientFunds',
  });
  expect(labels(new ccxt.RequestTimeout('slow'))).toEqual({ kind: 'unavailable', error: 'RequestTimeout' });
  expect(exchangeErrorLabels(new TypeError('bad answer'))).toEqual({
    kind: 'unexpected',
    error: 'TypeError',
  });
});
