/**
 * `make dev`: Postgres, Temporal, migrations, seed, the exchange simulator, the worker and the API
 * with one command. Data lives in .data/ so accounts and workflows survive restarts. A crashed
 * worker, API or simulator is restarted with back-off (scripts/supervisor.ts); Ctrl-C, or a child
 * that keeps crashing, stops everything this script started, in reverse order.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { styleText } from 'node:util';
import pg from 'pg';
import { DEV_ADMIN_PASSWORD, docsEnabled, loadEnv, type Env } from '../src/config/env.js';
import { exchangeOptions, SIMULATOR } from '../src/config/exchange.js';
import { resolveTemporalConnection } from '../src/config/temporal.js';
import { startEmbeddedPostgres } from '../tools/embedded-postgres.js';
import { migrate, openOrm } from '../src/db/orm.js';
import { seed } from '../src/services/seed.js';
import { startDevServer, waitForPort } from '../tools/temporal-dev-server.js';
import { supervise } from './supervisor.js';
import { prettyLogger } from './pretty-log.js';

type Color = Parameters<typeof styleText>[0];
const root = resolve(import.meta.dirname, '..');
const dataDir = join(root, '.data');
const EMBEDDED_PG_PORT = 54329;
const TEMPORAL_UI_PORT = 8233;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const startedAt = performance.now();

const cleanups: { name: string; stop: () => Promise<void> }[] = [];
let stopping = false;
/** The start-up step in flight: shutdown waits for it so that whatever it starts gets stopped too. */
let inFlight: Promise<unknown> = Promise.resolve();

// styleText drops the colour when stdout is not a terminal (or NO_COLOR is set).
const print = (tag: string, color: Color, line: string) =>
  process.stdout.write(`${styleText(color, `[${tag}]`.padEnd(10))} ${line}\n`);
const say = (line: string) => print('dev', 'green', line);
// The children write pino JSON (as in production); here it is shown pretty, each line still prefixed.
const pretty = prettyLogger();
const prefixLines = (stream: Readable, tag: string, color: Color) =>
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) =>
    pretty(line).forEach((shown) => print(tag, color, shown)),
  );

const isListening = (port: number, host = '127.0.0.1') =>
  waitForPort(port, host, 0).then(
    () => true,
    () => false,
  );

const elapsed = (since = startedAt) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

async function step<T>(label: string, work: () => Promise<T>): Promise<T> {
  if (stopping) await new Promise(() => undefined); // shutdown is under way and ends with process.exit
  const begun = performance.now();
  const running = work();
  inFlight = running.catch(() => undefined);
  const result = await running;
  say(`${label} (${elapsed(begun)})`);
  return result;
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('stopping…');
  await inFlight;
  for (const { name, stop } of cleanups.reverse()) {
    await stop().catch((error: unknown) => say(`stopping ${name} failed: ${String(error)}`));
  }
  say(code === 0 ? 'stopped' : `stopped after a failure (exit ${code})`);
  process.exit(code);
}

let firstSignalAt = 0;
function onSignal(signal: NodeJS.Signals) {
  if (!stopping) {
    firstSignalAt = Date.now();
    void shutdown(0);
  } else if (Date.now() - firstSignalAt > 1_000) {
    // (tsx relays the terminal's Ctrl-C as well, so an immediate repeat is not the user's)
    say(`${signal} again: still stopping (children get SIGKILL after 10 s)`);
  }
}

async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) await client.query(`create database "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function startPostgres(env: Env): Promise<string> {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  // embedded-postgres installs SIGINT/SIGTERM handlers that stop Postgres and exit the process at once,
  // before the API and worker have drained: remove them, our shutdown stops Postgres last.
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const embedded = await startEmbeddedPostgres(join(dataDir, 'postgres'), EMBEDDED_PG_PORT);
  for (const s of SIGNALS)
    for (const l of process.listeners(s)) if (!before.get(s)?.has(l)) process.off(s, l);
  cleanups.push({
    name: 'postgres',
    // Ctrl-C in a terminal reaches Postgres directly too, and its stop() never settles once the server is gone.
    stop: async () => {
      if (await isListening(EMBEDDED_PG_PORT)) await Promise.race([embedded.stop(), sleep(10_000)]);
    },
  });
  return ensureDatabase(embedded.url, 'crypto_purchase');
}

async function startTemporal(env: Env): Promise<{ address: string; ui?: string }> {
  // The address Temporal's conventions give (TEMPORAL_ADDRESS, else a temporal.toml profile, else
  // 127.0.0.1:7233). A dev server is started only on this machine, and only when none answers there.
  const { address } = resolveTemporalConnection(env).connectionOptions;
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  const port = Number(address.slice(colon + 1));
  if (!['127.0.0.1', 'localhost'].includes(host) || (await isListening(port, host))) return { address };
  await mkdir(dataDir, { recursive: true });
  const server = await startDevServer({
    port,
    uiPort: TEMPORAL_UI_PORT,
    dbFile: join(dataDir, 'temporal.sqlite'), // workflows survive restarts
    // Its own shutdown logs a burst of harmless connection warnings: not worth showing.
    log: (chunk) =>
      chunk.split('\n').forEach((line) => line.trim() && !stopping && print('temporal', 'blue', line)),
  });
  cleanups.push({ name: 'temporal', stop: () => server.stop('SIGTERM') }); // SIGTERM lets SQLite flush
  return { address: server.address, ui: `http://127.0.0.1:${TEMPORAL_UI_PORT}` };
}

async function migrateAndSeed(env: Env, databaseUrl: string): Promise<void> {
  const orm = await openOrm({ databaseUrl, poolSize: 2 });
  try {
    const applied = await migrate(orm);
    say(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database schema is up to date');
    await seed(orm.em.fork(), { username: env.ADMIN_USERNAME, password: env.ADMIN_PASSWORD });
  } finally {
    await orm.close();
  }
}

/**
 * Runs one service under supervision: a crash (worker `kill -9`, an API that lost its database...)
 * restarts it with back-off and says so; only a child that keeps crashing stops everything. Each
 * child is its own process group, so a stop reaches npx, sh, tsx and node alike.
 */
function spawnChild(tag: string, color: Color, script: string, env: NodeJS.ProcessEnv): void {
  const supervised = supervise({
    name: tag,
    start: () => {
      const child = spawn('npx', ['tsx', script], {
        cwd: root,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      prefixLines(child.stdout, tag, color);
      prefixLines(child.stderr, tag, color);
      return child;
    },
    log: say,
    onGiveUp: () => void shutdown(1),
  });
  cleanups.push({ name: tag, stop: () => supervised.stop() });
}

/** Where the worker buys: the simulator by default, else the configured exchange. */
function exchangeLabel(env: Env): string {
  const exchange = exchangeOptions(env);
  const where = exchange.url ?? (exchange.sandbox ? 'sandbox' : 'live API');
  return `${exchange.exchangeId} at ${where}${exchange.url === simulatorUrl(env) ? ' (the simulator)' : ''}`;
}

/** The simulator listens where EXCHANGE_URL points when that is this machine, else on its default. */
function simulatorUrl(env: Env): string {
  const url = exchangeOptions(env).url;
  const local = url !== undefined && ['127.0.0.1', 'localhost'].includes(new URL(url).hostname);
  return local ? url : SIMULATOR.url;
}

function printBanner(env: Env, databaseUrl: string, temporal: { address: string; ui?: string }) {
  const api = `http://127.0.0.1:${env.API_PORT}/api/v1`;
  const db = new URL(databaseUrl);
  if (db.password) db.password = '***';
  // The seed never changes an existing admin's password, hence "when first seeded".
  const login =
    env.ADMIN_PASSWORD === DEV_ADMIN_PASSWORD
      ? `${env.ADMIN_USERNAME} / ${DEV_ADMIN_PASSWORD} (the dev default)`
      : `${env.ADMIN_USERNAME} / the ADMIN_PASSWORD set when first seeded`;
  const local = (host: string) => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
  const metricsUrl = (host: string, port: number) => (port ? `http://${local(host)}:${port}/metrics` : 'off');
  const docs = docsEnabled(env)
    ? [
        ['Swagger UI', `${api}/swagger/`],
        ['ReDoc', `${api}/redoc/`],
        ['OpenAPI', `${api}/openapi.json`],
      ]
    : [['Docs', 'off (DOCS_ENABLED=false)']];
  const rows = [
    ['API', `${api}/`],
    ...docs,
    ['API metrics', metricsUrl(env.API_METRICS_HOST, env.API_METRICS_PORT)],
    ['Worker metrics', metricsUrl(env.API_HOST, env.WORKER_METRICS_PORT)],
    ['Temporal UI', temporal.ui ?? `not started here: reusing the server at ${temporal.address}`],
    ['Exchange', exchangeLabel(env)],
    ['Postgres', db.toString()],
    ['Login', login],
  ];
  console.log(`\n${rows.map(([k, v]) => `  ${styleText('bold', k!.padEnd(14))} ${v}`).join('\n')}`);
  console.log(`\n  Ready in ${elapsed()}. Ctrl-C stops everything.\n`);
}

async function main(): Promise<void> {
  for (const s of SIGNALS) process.on(s, onSignal);
  const envFile = join(root, '.env');
  if (existsSync(envFile)) process.loadEnvFile(envFile); // variables already set win
  const env = loadEnv();
  exchangeOptions(env); // fails now, not in the worker, when the exchange keys are missing

  const databaseUrl = await step('postgres ready', () => startPostgres(env));
  const temporal = await step('temporal ready', () => startTemporal(env));
  await step('migrated and seeded', () => migrateAndSeed(env, databaseUrl));
  if (stopping) return;

  const simPort = Number(new URL(simulatorUrl(env)).port || 80);
  const childEnv = { ...process.env, DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporal.address };
  // Spawn order is the reverse of stop order: the API stops first, the exchange last (the worker's buys need it).
  spawnChild('exchange', 'yellow', 'src/exchange/simulator/main.ts', {
    ...childEnv,
    EXCHANGE_SIM_PORT: String(simPort),
  });
  spawnChild('worker', 'magenta', 'src/worker/main.ts', childEnv);
  spawnChild('api', 'cyan', 'src/api/main.ts', childEnv);
  // A child that keeps crashing meanwhile triggers shutdown(1).
  await Promise.all([
    waitForPort(env.API_PORT, '127.0.0.1', 120_000),
    waitForPort(simPort, '127.0.0.1', 120_000),
  ]);
  if (!stopping) printBanner(env, databaseUrl, temporal);
}

main().catch((error: unknown) => {
  say(`start-up failed: ${error instanceof Error ? error.message : String(error)}`);
  void shutdown(1);
});
