import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { refreshPricesWorkflow } from '../src/workflows/index.js';
import { createActivities } from '../src/activities/index.js';
import { fraudConfig } from '../src/config/env.js';
import { temporalTestServerPath } from '../tools/temporal-binaries.js';
import { workflowCode } from './support/workflow-bundle.js';
import { ensurePriceSchedule } from '../src/worker/schedules.js';
import { PRICE_SCHEDULE_ID } from '../src/workflows/definitions.js';
import { seed } from '../src/services/seed.js';
import { createTestDatabase } from './support/db.js';
import { quietRuntime, simulatorExchange, startSimulator } from './support/pipeline.js';
import { eventually, startApi, testEnv } from './support/api.js';

const PRICES = 'ABAN=4.00,BTC=51234.56,ETH=2999.99';

it('the refresh workflow copies the exchange prices into Postgres (time-skipping)', async () => {
  quietRuntime();
  const db = await createTestDatabase();
  await seed(db.orm.em.fork(), { username: 'admin', password: 'irrelevant-pass' });
  const sim = await startSimulator({ EXCHANGE_SIM_PRICES: PRICES });
  const path = temporalTestServerPath();
  const env = await TestWorkflowEnvironment.createTimeSkipping(
    path ? { server: { executable: { type: 'existing-path', path } } } : {},
  );
  try {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'prices',
      workflowBundle: await workflowCode(),
      activities: createActivities({
        orm: db.orm,
        exchange: simulatorExchange(sim.url),
        temporal: env.client,
        taskQueue: 'prices',
        aggregationThreshold: 1000n,
        aggregationMaxWaitMs: 60_000,
        maxOrderTotal: 100_000_000n,
        fraud: fraudConfig(testEnv()),
        reviewTimeoutMs: 60_000,
      }),
    });
    const changed = await worker.runUntil(
      env.client.workflow.execute(refreshPricesWorkflow, { workflowId: 'refresh-once', taskQueue: 'prices' }),
    );
    expect(changed).toBe(2);
    const rows = await db.orm.em.fork().execute('select name, price from crypto_currencies order by name');
    expect(rows).toEqual([
      { name: 'ABAN', price: '4.00' },
      { name: 'BTC', price: '51234.56' },
      { name: 'ETH', price: '2999.99' },
    ]);
  } finally {
    await env.teardown();
    await sim.app.close();
    await db.drop();
  }
});

it('the schedule refreshes prices periodically on the dev server', async () => {
  const api = await startApi({ worker: true, simulatorEnv: { EXCHANGE_SIM_PRICES: PRICES } });
  try {
    await ensurePriceSchedule(api.temporal, api.env.TEMPORAL_TASK_QUEUE, 1_000);
    // Created once, updated in place the second time.
    await ensurePriceSchedule(api.temporal, api.env.TEMPORAL_TASK_QUEUE, 1_000);
    const listed = await eventually(
      () => api.call('GET', 'exchanges/crypto-currencies/'),
      (res) =>
        res.body.some((c: { name: string; price: string }) => c.name === 'BTC' && c.price === '51234.56'),
    );
    expect(listed.body).toContainEqual({ name: 'ETH', price: '2999.99' });
    const description = await api.temporal.schedule.getHandle(PRICE_SCHEDULE_ID).describe();
    expect(description.spec.intervals?.[0]?.every).toBe(1_000);
  } finally {
    await api.close();
  }
});
