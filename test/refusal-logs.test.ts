import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import { newUser, runWorker, startApi, type TestApi } from './support/api.js';
import { simulatorExchange } from './support/pipeline.js';

// The worker's log, as the runtime hands it to its logger (this file installs the runtime itself).
const entries: LogEntry[] = [];
Runtime.install({ logger: new DefaultLogger('INFO', (entry) => void entries.push(entry)) });

let api: TestApi;
let stopWorker: () => Promise<void>;
beforeAll(async () => {
  api = await startApi();
  // Refusals never reach the exchange.
  ({ stop: stopWorker } = await runWorker(
    api,
    simulatorExchange('http://127.0.0.1:9', { EXCHANGE_TIMEOUT: '100ms' }),
  ));
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
