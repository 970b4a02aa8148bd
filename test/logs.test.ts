import { Runtime } from '@temporalio/worker';
import { activityAware, runtimeLogging } from '../src/logging/worker-log.js';
import { createCcxtExchange } from '../src/exchange/ccxt-exchange.js';
import { exchangeOptions } from '../src/config/exchange.js';
import {
  SIMULATOR_KEYS,
  eventually,
  fundedUser,
  newUser,
  runWorker,
  startApi,
  testEnv,
  type TestApi,
} from './support/api.js';
import { addCrypto, startSimulator, type Simulator } from './support/pipeline.js';

type Line = Record<string, unknown>;

/** A pino destination keeping each JSON line it is given, parsed. */
const capture = (lines: Line[]) => ({
  write: (chunk: string) => {
    for (const text of chunk.split('\n')) if (text) lines.push(JSON.parse(text) as Line);
  },
});

// The worker's log as the worker writes it: the runtime logging of src/worker/main.ts, at debug so
// the SDK's own activity lines show too (this file installs the runtime itself).
const workerLines: Line[] = [];
const logging = runtimeLogging('debug', capture(workerLines));
Runtime.install({ logger: logging.logger, telemetryOptions: { logging: logging.core } });

const apiLines: Line[] = [];
const INFO = 30;
const WARN = 40;

let api: TestApi;
let sim: Simulator;
let stopWorker: () => Promise<void>;
beforeAll(async () => {
  api = await startApi({ env: { LOG_LEVEL: 'info' }, logDestination: capture(apiLines) });
  sim = await startSimulator();
  // The driver as the worker builds it: inside an activity it logs through the activity's logger.
  const settings = exchangeOptions(testEnv({ EXCHANGE_URL: sim.url, ...SIMULATOR_KEYS }));
  const exchange = createCcxtExchange({ ...settings, logger: activityAware(logging.logger) });
  ({ stop: stopWorker } = await runWorker(api, exchange));
});
afterAll(async () => {
  await stopWorker?.();
  await api?.close();
  await sim?.app.close();
});

const linesOf = (lines: Line[], reqId: string) => lines.filter((l) => l.reqId === reqId);
const completedLine = async (reqId: string) =>
  (
    await eventually(
      async () => linesOf(apiLines, reqId).filter((l) => l.msg === 'request completed'),
      (found) => found.length > 0,
    )
  )[0]!;

describe('the API', () => {
  it('writes one line per request, when it is answered, with method, url, status, time and request id', async () => {
    const user = await newUser(api);
    const calls = [
      await api.call('GET', 'accounts/wallet/', { token: user.access }),
      await api.call('GET', 'accounts/wallet/'),
      await api.call('GET', 'exchanges/crypto-currencies/?limit=5'),
      await api.call('GET', 'no-such-route/'),
    ];
    const ids = calls.map((res) => res.headers.get('x-request-id')!);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [i, res] of calls.entries()) {
      const line = await completedLine(ids[i]!);
      expect(line).toEqual(
        expect.objectContaining({
          level: INFO,
          time: expect.any(Number),
          method: 'GET',
          status: res.status,
          responseTime: expect.any(Number),
        }),
      );
      expect(linesOf(apiLines, ids[i]!).filter((l) => l.msg === 'request completed')).toHaveLength(1);
    }
    expect(calls.map((res) => res.status)).toEqual([200, 401, 200, 404]);
    expect((await completedLine(ids[2]!)).url).toBe('/api/v1/exchanges/crypto-currencies/?limit=5');
    expect(apiLines.filter((l) => l.msg === 'incoming request')).toEqual([]);
  });

  it('honours a well-formed X-Request-Id, echoes it, and replaces a malformed one', async () => {
    const sent = `trace-${process.pid}.a_b:42`;
    const honoured = await api.call('GET', '/healthz', { headers: { 'x-request-id': sent } });
    expect(honoured.headers.get('x-request-id')).toBe(sent);
    expect(await completedLine(sent)).toMatchObject({ url: '/healthz', status: 200 });

    for (const malformed of ['two words', 'x'.repeat(129), 'semi;colon', '']) {
      const res = await api.call('GET', '/healthz', { headers: { 'x-request-id': malformed } });
      const replaced = res.headers.get('x-request-id')!;
      expect(replaced).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(await completedLine(replaced)).toMatchObject({ url: '/healthz', status: 200 });
      expect(apiLines.filter((l) => l.reqId === malformed)).toEqual([]);
    }
  });
});

describe('an order', () => {
  it('is named by its order id and workflow id on every line about it, in the API and the worker', async () => {
    const user = await fundedUser(api, '100.00');
    const reqId = `place-${process.pid}`;
    const placed = await api.call('POST', 'orders/', {
      token: user.access,
      body: { crypto: 'ABAN', amount: '3' }, // $12: bought alone, at once
      headers: { 'x-request-id': reqId },
    });
    expect(placed).toMatchObject({ status: 201, body: { state: 'pending' } });
    expect(placed.headers.get('x-request-id')).toBe(reqId);
    const orderId = placed.body.id as number;
    const about = { orderId, workflowId: `order-${orderId}` };

    // The placement's outcome and the request's own line, on the request's id.
    expect(await completedLine(reqId)).toMatchObject({ ...about, method: 'POST', status: 201 });
    expect(linesOf(apiLines, reqId)).toEqual([
      expect.objectContaining({
        ...about,
        level: INFO,
        msg: 'order placed',
        state: 'pending',
        total: '12.00',
      }),
      expect.objectContaining({ ...about, msg: 'request completed' }),
    ]);

    const read = await eventually(
      () => api.call('GET', `orders/${orderId}/`, { token: user.access }),
      (res) => res.body.state === 'completed',
    );
    expect(await completedLine(read.headers.get('x-request-id')!)).toMatchObject({ ...about, status: 200 });

    // The worker: each activity the order ran logs with the order's ids (the SDK's own lines
    // included), and no line of its workflow lacks them.
    const activityLines = await eventually(
      async () => workerLines.filter((l) => l.workflowId === about.workflowId && l.activityType),
      (found) => found.some((l) => l.activityType === 'debitOrder' && l.msg === 'Activity completed'),
    );
    // The debit's activity went on with the buy and the completion (src/activities/after-debit.ts).
    expect(new Set(activityLines.map((l) => l.activityType))).toEqual(new Set(['debitOrder']));
    const ofWorkflow = workerLines.filter((l) => l.workflowId === about.workflowId);
    for (const line of ofWorkflow) {
      expect(line).toEqual(
        expect.objectContaining({ ...about, level: expect.any(Number), time: expect.any(Number) }),
      );
      expect(typeof line.msg).toBe('string');
      expect(line).not.toHaveProperty('taskToken');
    }
  });

  it("carries them on the exchange driver's lines too", async () => {
    await addCrypto(api.db, 'NOSALE', '20.00'); // listed here, no market on the exchange
    const user = await fundedUser(api, '100.00');
    const placed = await api.call('POST', 'orders/', {
      token: user.access,
      body: { crypto: 'NOSALE', amount: '1' },
    });
    expect(placed).toMatchObject({ status: 201, body: { state: 'pending' } });
    const orderId = placed.body.id as number;
    await eventually(
      () => api.call('GET', `orders/${orderId}/`, { token: user.access }),
      (res) => res.body.state === 'failed',
    );
    const refusal = workerLines.filter((l) => String(l.msg).startsWith('exchange refusal'));
    expect(refusal).toEqual([
      expect.objectContaining({
        level: 50,
        code: 'BadSymbol',
        orderId,
        workflowId: `order-${orderId}`,
        // The first try runs in the debit's activity, which goes on with the buy.
        activityType: 'debitOrder',
      }),
    ]);
  });

  it.each([
    ['insufficient_funds', { crypto: 'ABAN', amount: '3' }, 422],
    ['total_too_small', { crypto: 'BTC', amount: '0.00000001' }, 400],
  ])(
    'a %s refusal is one info line with the order id and code, no warning or stack',
    async (code, body, status) => {
      const user = await newUser(api);
      workerLines.length = 0;
      const res = await api.call('POST', 'orders/', { token: user.access, body });
      expect(res).toMatchObject({ status, body: { error: { code } } });
      const [order] = await api.db.orm.em
        .fork()
        .execute<{ order_id: string }[]>(
          'select order_id from order_placements p join users u on u.id = p.user_id where u.username = ?',
          [user.username],
        );
      const orderId = Number(order!.order_id);
      const about = { orderId, workflowId: `order-${orderId}` };

      const reqId = res.headers.get('x-request-id')!;
      expect(await completedLine(reqId)).toMatchObject({ ...about, status });
      expect(linesOf(apiLines, reqId).filter((l) => l.msg === 'order refused')).toEqual([
        expect.objectContaining({ ...about, level: INFO, code }),
      ]);

      // The debit's failure is the activity's last line: by then its refusal line is written too.
      await eventually(
        async () => workerLines,
        (lines) => lines.some((l) => l.msg === 'Activity failed' && l.workflowId === about.workflowId),
      );
      const refused = workerLines.filter((l) => l.msg === 'order refused');
      expect(refused).toEqual([
        expect.objectContaining({ ...about, level: INFO, code, activityType: 'debitOrder' }),
      ]);
      expect(JSON.stringify(refused[0])).not.toContain('stack');
      const loud = workerLines.filter((l) => (l.level as number) >= WARN);
      expect(loud.map((l) => `${String(l.level)} ${String(l.msg)} ${JSON.stringify(l.err)}`)).toEqual([]);
    },
  );
});
