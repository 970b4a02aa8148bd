import { eventually, runWorker, startApi, type TestApi, fundedUser, balanceOf } from './support/api.js';
import { quietRuntime, simulatorExchange, startSimulator, type Simulator } from './support/pipeline.js';

// No worker polls the task queue until the test starts one: the order workflows start, but their
// debits wait, as they do when the worker is paused or down.
let api: TestApi;
let sim: Simulator;
beforeAll(async () => {
  api = await startApi({ env: { PLACEMENT_TIMEOUT: '1s', DOCS_ENABLED: 'true' } });
  sim = await startSimulator();
});
afterAll(async () => {
  await api?.close();
  await sim?.app.close();
});

const startWorker = () => {
  quietRuntime();
  return runWorker(api, simulatorExchange(sim.url));
};

const ledger = async (token: string) => (await api.call('GET', 'transactions/', { token })).body.results;

it('answers 202 placing when the debit is late, then shows the order through to its outcome', async () => {
  const buyer = await fundedUser(api, '100.00');
  const poor = await fundedUser(api, '5.00');
  const key = { 'idempotency-key': `placing-${Date.now()}` };
  const order = { crypto: 'ABAN', amount: '3' };

  const started = Date.now();
  const accepted = await api.call('POST', 'orders/', { token: buyer.access, body: order, headers: key });
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(accepted).toMatchObject({
    status: 202,
    body: { crypto: 'ABAN', amount: '3.00000000', state: 'placing', failure_code: null },
  });
  const id = accepted.body.id as number;
  expect(accepted.headers.get('location')).toBe(`/api/v1/orders/${id}/`);
  expect((await api.call('GET', `orders/${id}/`, { token: buyer.access })).body).toMatchObject({
    id,
    state: 'placing',
  });
  // Another user cannot see it.
  expect((await api.call('GET', `orders/${id}/`, { token: poor.access })).status).toBe(404);
  // A retry with the same key joins the same order rather than buying again.
  const replay = await api.call('POST', 'orders/', { token: buyer.access, body: order, headers: key });
  expect(replay).toMatchObject({ status: 202, body: { id, state: 'placing' } });

  // An order the debit will refuse is accepted the same way, and nothing is charged.
  const refused = await api.call('POST', 'orders/', { token: poor.access, body: order });
  expect(refused).toMatchObject({ status: 202, body: { state: 'placing' } });
  expect(await balanceOf(api, buyer.access)).toBe('100.00');

  const worker = await startWorker();
  try {
    await eventually(
      () => api.call('GET', `orders/${id}/`, { token: buyer.access }),
      (r) => r.body.state === 'completed',
    );
    const rejected = await eventually(
      () => api.call('GET', `orders/${refused.body.id}/`, { token: poor.access }),
      (r) => r.body.state !== 'placing',
    );
    expect(rejected.body).toMatchObject({
      state: 'rejected',
      failure_code: 'insufficient_funds',
      failure_reason: expect.any(String),
    });
    expect(await balanceOf(api, poor.access)).toBe('5.00');
    expect((await ledger(poor.access)).map((e: { type: string }) => e.type)).toEqual(['deposit']);

    // The first answer after the debit is the order itself; still exactly one debit.
    const after = await api.call('POST', 'orders/', { token: buyer.access, body: order, headers: key });
    expect(after).toMatchObject({ status: 201, body: { id, state: 'completed' } });
    expect(await balanceOf(api, buyer.access)).toBe('88.00');
    const entries = await ledger(buyer.access);
    expect(entries.filter((e: { type: string }) => e.type === 'withdrawal')).toEqual([
      expect.objectContaining({ amount: '12.00', order_id: id }),
    ]);
    expect((await sim.fills()).filter((f) => f.client_order_id === `order-${id}`)).toHaveLength(1);
  } finally {
    await worker.stop();
  }
});

it('documents 202 placing and 503 in the OpenAPI document', async () => {
  const spec = (await api.call('GET', 'openapi.json')).body;
  const post = spec.paths['/api/v1/orders/'].post;
  expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['201', '202', '503']));
  expect(JSON.stringify(post.responses['202'])).toContain('placing');
  expect(JSON.stringify(spec.paths['/api/v1/orders/{id}/'].get.responses['200'])).toContain('rejected');
});
