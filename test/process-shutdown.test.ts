import { spawn } from 'node:child_process';
import { connectClient } from '../src/temporal/connection.js';
import getPort from 'get-port';
import { Client } from '@temporalio/client';
import { waitForPort } from '../tools/temporal-dev-server.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { ADMIN, SIMULATOR_KEYS, eventually } from './support/api.js';

/** The API and the worker as they run in production: their own processes, stopped by SIGTERM. */
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const namespace = `test-${process.env.JEST_WORKER_ID ?? '1'}`;
const baseEnv = () => ({
  ...process.env,
  APP_ENV: 'test',
  LOG_LEVEL: 'info',
  JWT_SECRET: 'shutdown-test-signing-key-4d8e1a7c0b3f6e9d2a5c8b1e',
  ADMIN_PASSWORD: ADMIN.password,
  DATABASE_URL: db.url,
  TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
  TEMPORAL_NAMESPACE: namespace,
  TEMPORAL_TASK_QUEUE: `shutdown-${process.pid}`,
});

/**
 * Starts `script`, waits until `port` answers (and `whileUp` is done), sends SIGTERM and reports how
 * the process ended.
 */
async function startAndTerminate(
  script: string,
  env: NodeJS.ProcessEnv,
  port: number,
  whileUp?: () => Promise<unknown>,
) {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  try {
    await Promise.race([
      waitForPort(port, '127.0.0.1', 45_000),
      exited.then(() => Promise.reject(new Error(`${script} exited during start-up:\n${output}`))),
    ]);
    await whileUp?.();
    const signalled = Date.now();
    child.kill('SIGTERM');
    const exit = await exited;
    // The output goes into the compared object only when the exit is not clean, so a failure says why.
    const clean = exit.code === 0 && exit.signal === null;
    return { ...exit, output, closeMs: Date.now() - signalled, ...(clean ? {} : { log: output }) };
  } finally {
    child.kill('SIGKILL');
  }
}

it('the API closes and exits 0 on SIGTERM', async () => {
  const port = await getPort();
  const exit = await startAndTerminate(
    'src/api/main.ts',
    { ...baseEnv(), API_HOST: '127.0.0.1', API_PORT: String(port), API_METRICS_PORT: '0' },
    port,
  );
  expect(exit).toEqual(expect.objectContaining({ code: 0, signal: null }));
  expect(exit).not.toHaveProperty('log');
  expect(exit.output).toContain('SIGTERM received, shutting down');
}, 60_000);

it('the worker drains, closes and exits 0 on SIGTERM', async () => {
  const metricsPort = await getPort();
  const exit = await startAndTerminate(
    'src/worker/main.ts',
    {
      ...baseEnv(),
      // Keys are required outside development; nothing listens there, and nothing is bought.
      EXCHANGE_URL: 'http://127.0.0.1:9',
      ...SIMULATOR_KEYS,
      API_HOST: '127.0.0.1',
      WORKER_METRICS_PORT: String(metricsPort),
      WORKER_SDK_METRICS_PORT: String(await getPort()),
    },
    metricsPort,
    // Its /metrics as main.ts wires it: its own, the reconcile check run at start, and the SDK's
    // under their Prometheus names.
    () =>
      eventually<string>(
        () => fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text()),
        (text) =>
          /^reconcile_runs_total\{outcome="ok"\} 1$/m.test(text) &&
          /^temporal_worker_task_slots_available\{/m.test(text),
      ),
  );
  expect(exit).toEqual(expect.objectContaining({ code: 0, signal: null }));
  expect(exit).not.toHaveProperty('log');
  expect(exit.output).toContain('SIGTERM received, shutting down');
  // The worker created the price schedule: remove it, other files share the namespace.
  const connection = await connectClient({ address: process.env.TEST_TEMPORAL_ADDRESS });
  try {
    const client = new Client({ connection, namespace });
    for await (const schedule of client.schedule.list()) {
      await client.schedule.getHandle(schedule.scheduleId).delete();
    }
  } finally {
    await connection.close();
  }
}, 90_000);
