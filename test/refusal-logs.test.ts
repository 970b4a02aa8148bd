import { DefaultLogger, NativeConnection, Runtime, type LogEntry } from '@temporalio/worker';
import { fraudConfig } from '../src/config/env.js';
import { createHttpExchange } from '../src/exchange/http-exchange.js';
import { createWorker } from '../src/worker/worker.js';
import { newUser, startApi, type TestApi } from './support/api.js';

// The worker's log, as the runtime hands it to its logger (this file installs the runtime itself).
const entries: LogEntry[] = [];
Runtime.install({ logger: new DefaultLogger('INFO', (entry) => void entries.push(entry)) });

let api: TestApi;
let stopWorker: () => Promise<void>;
beforeAll(async () => {
  api = await startApi();
  const connection = await NativeConnection.connect({ address: api.env.TEMPORAL_ADDRESS });
  const worker = await createWorker({
    connection,
    namespace: api.env.TEMPORAL_NAMESPACE,
    taskQueue: api.env.TEMPORAL_TASK_QUEUE,
    orm: api.db.orm,
    temporal: api.temporal,
    // Refusals never reach the exchange.
    exchange: createHttpExchange({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 100 }),
    aggregationThreshold: api.env.AGGREGATION_THRESHOLD,
    aggregationMaxWaitMs: api.env.AGGREGATION_MAX_WAIT,
    maxOrderTotal: api.env.MAX_AMOUNT,
    fraud: fraudConfig(api.env),
    reviewTimeoutMs: api.env.FRAUD_REVIEW_TIMEOUT,
  });
  const running = worker.run();
  stopWorker = async () => {
    worker.shutdown();
    await running;
    await connection.close();
  };
});
afterAll(async () => {
  await stopWorker?.();
  await api?.close();
});

it.each([
  ['insufficient_funds', { crypto: 'ABAN', amount: '3' }, 422],
  ['total_too_small', { crypto: 'BTC', amount: '0.00000001' }, 400],
])(
  'a %s refusal is one info line with the order id and code, no warning or stack',
  async (code, body, status) => {
    const user = await newUser(api);
    entries.length = 0;
    const res = await api.call('POST', 'orders/', { token: user.access, body });
    expect(res).toMatchObject({ status, body: { error: { code } } });
    const [order] = await api.db.orm.em
      .fork()
      .execute<{ order_id: string }[]>(
        'select order_id from order_placements p join users u on u.id = p.user_id where u.username = ?',
        [user.username],
      );
    const orderId = Number(order!.order_id);

    const refused = entries.filter((e) => e.message === 'order refused');
    expect(refused).toEqual([
      expect.objectContaining({ level: 'INFO', meta: expect.objectContaining({ orderId, code }) }),
    ]);
    expect(JSON.stringify(refused[0]!.meta)).not.toContain('stack');
    const loud = entries.filter((e) => e.level === 'WARN' || e.level === 'ERROR');
    expect(loud.map((e) => `${e.level} ${e.message} ${String((e.meta?.error as Error)?.stack)}`)).toEqual([]);
  },
);
