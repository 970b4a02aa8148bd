import { spawn } from 'node:child_process';
import { seed } from '../src/services/seed.js';
import { ADMIN, SIMULATOR_KEYS } from './support/api.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { startSimulator, type Simulator } from './support/pipeline.js';

// `make exchange-check` as an operator runs it: a real process against the simulator over HTTP.

let sim: Simulator;
let db: TestDatabase;
beforeAll(async () => {
  sim = await startSimulator();
  db = await createTestDatabase();
  await seed(db.orm.em.fork(), ADMIN); // lists ABAN, BTC and ETH
});
afterAll(async () => {
  await sim?.app.close();
  await db?.drop();
});

function check(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/exchange-check.ts', ...args], {
    env: {
      PATH: process.env.PATH,
      APP_ENV: 'test',
      JWT_SECRET: 'exchange-check-signing-key-5e2b9d4a7c1f8e3b6a0d',
      ADMIN_PASSWORD: ADMIN.password,
      EXCHANGE_URL: sim.url,
      ...SIMULATOR_KEYS,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

it('prints each listed crypto (from Postgres) with its market, minimum, step and price, and the balance; buys nothing', async () => {
  const { code, output } = await check({ DATABASE_URL: db.url });
  expect(output).toContain('cryptos (from Postgres (DATABASE_URL)): ABAN, BTC, ETH');
  expect(output).toContain('ABAN: market ABAN/USDT, min notional 10.00, step 0.01, last price 4.00');
  expect(output).toContain('BTC: market BTC/USDT, min notional 10.00, step 0.00001, last price 50000.00');
  expect(output).toContain('ETH: market ETH/USDT, min notional 10.00, step 0.0001, last price 3000.00');
  expect(output).toContain('balance: 1000000 USDT free, 1000000 in total');
  expect(output).not.toContain('error:');
  expect(code).toBe(0);
  expect(await sim.fills()).toEqual([]);
});

it('fails with an error line per problem: a crypto without a market, keys the exchange refuses', async () => {
  const { code, output } = await check({ EXCHANGE_SECRET: 'not-the-secret' }, ['--cryptos', 'ABAN,DOGE']);
  expect(output).toContain('ABAN: market ABAN/USDT');
  expect(output).toMatch(/^error: DOGE: binance has no spot market DOGE\/USDT \(check EXCHANGE_MARKETS/m);
  expect(output).toMatch(
    /^error: cannot read the account balance \(check EXCHANGE_API_KEY, EXCHANGE_SECRET.*-1022/m,
  );
  expect(output).toContain('exchange check FAILED');
  expect(code).toBe(1);
});

it('fails when the exchange cannot be reached', async () => {
  const { code, output } = await check({ EXCHANGE_URL: 'http://127.0.0.1:9' }, ['--cryptos', 'BTC']);
  expect(output).toMatch(/^error: cannot load the markets from http:\/\/127\.0\.0\.1:9: .*NetworkError/m);
  expect(code).toBe(1);
});

it('fails when the keys are missing outside development, naming them', async () => {
  const { code, output } = await check({ EXCHANGE_API_KEY: '', EXCHANGE_SECRET: '' }, ['--cryptos', 'BTC']);
  expect(output).toMatch(/EXCHANGE_API_KEY: must be set/);
  expect(output).toMatch(/EXCHANGE_SECRET: must be set/);
  expect(code).toBe(1);
});
