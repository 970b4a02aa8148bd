/**
 * The baselines: what this machine, right now, does with no application logic in the way.
 *  B-http      a Fastify hello-world route in this process, req/s at saturation (autocannon).
 *  B-temporal  update-with-start of benchNoopWorkflow (one no-op activity), open loop at rising rates.
 *  B-signal    signal-with-start into one benchCounterWorkflow, open loop at rising rates.
 *  B-db        pgbench running the wallet's conditional debit, on random wallets and on one hot wallet.
 * B-temporal and B-signal are driven exactly like the system: open-loop HTTP from the load-generator
 * process to a bare Fastify route in this process that makes the Temporal call, so the ratios compare
 * like with like (the route adds what B-http shows: well under a millisecond).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { WithStartWorkflowOperation } from '@temporalio/client';
import pg from 'pg';
import type { CpuUse } from './cpu.js';
import type { LoadGenerator, SaturateResult } from './load.js';
import type { Stack } from './stack.js';
import { addOrdersToPoolSignal } from '../src/workflows/definitions.js';
import { createPoolFeed } from '../src/activities/pool-feed.js';
import { readUsd } from '../src/domain/money.js';
import type { PoolInput } from '../src/workflows/pool.js';
import { POOLED_AMOUNT, POOLED_TOTAL } from './pool.js';
import { failStep, judge, type Criteria, type StepResult } from './stats.js';
import {
  benchCountQuery,
  benchCountSignal,
  benchCounterWorkflow,
  benchNoopWorkflow,
  benchRunUpdate,
} from './workflows.js';

const run = promisify(execFile);

/** Where pool-direct signals go: the service's pool task queue and its pool settings. */
export interface PoolTarget {
  taskQueue: string;
  /** USD string, as the pool workflow takes it. */
  threshold: string;
  maxWaitMs: number;
}

export interface BaselineServer {
  app: FastifyInstance;
  origin: string;
}

/** Hello-world, update-with-start and signal-with-start routes, with the API's logger settings. */
export async function startBaselineServer(stack: Stack, pool: PoolTarget): Promise<BaselineServer> {
  const { env, baselineClient: client, baselineTaskQueue: taskQueue } = stack;
  const app = Fastify({
    logger: env.LOG_LEVEL === 'silent' ? false : { level: env.LOG_LEVEL },
    routerOptions: { ignoreTrailingSlash: true },
  });
  app.get('/hello', async () => ({ hello: 'world' }));
  app.post<{ Params: { id: string } }>('/noop/:id', async (request) => {
    const result = await client.workflow.executeUpdateWithStart(benchRunUpdate, {
      startWorkflowOperation: new WithStartWorkflowOperation(benchNoopWorkflow, {
        workflowId: `noop-${request.params.id}`,
        taskQueue,
        args: [],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      }),
    });
    return { result };
  });
  app.post<{ Params: { workflowId: string } }>('/signal/:workflowId', async (request) => {
    await client.workflow.signalWithStart(benchCounterWorkflow, {
      workflowId: request.params.workflowId,
      taskQueue,
      args: [0],
      signal: benchCountSignal,
      signalArgs: [],
    });
    return { ok: true };
  });
  // pool-direct: orders straight into a pool workflow of the service, as enqueueInPool sends them
  // (grouped by the service's pool feed, with its linger).
  const input: PoolInput = { crypto: 'ABAN', threshold: pool.threshold, maxWaitMs: pool.maxWaitMs };
  const feed = createPoolFeed({
    lingerMs: stack.env.POOL_FEED_LINGER,
    threshold: readUsd(pool.threshold),
    async send(workflowId, orders) {
      await client.workflow.signalWithStart('poolWorkflow', {
        workflowId,
        taskQueue: pool.taskQueue,
        args: [input],
        signal: addOrdersToPoolSignal,
        signalArgs: [{ threshold: pool.threshold, orders }],
      });
      return readUsd(pool.threshold);
    },
  });
  app.post<{ Params: { workflowId: string; orderId: string } }>(
    '/pool/:workflowId/:orderId',
    async (request) => {
      const order = { orderId: Number(request.params.orderId), total: POOLED_TOTAL, amount: POOLED_AMOUNT };
      await feed.add(request.params.workflowId, order);
      return { ok: true };
    },
  );
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, origin };
}

export interface BenchContext {
  stack: Stack;
  load: LoadGenerator;
  stamp: string;
  criteria: Criteria;
  stepSeconds: number;
  log: (line: string) => void;
  /** Runs `work` and reports the CPU each part of the stack used meanwhile. */
  measure<T>(work: () => Promise<T>): Promise<{ result: T; cpu: CpuUse }>;
}

export async function benchHttp(ctx: BenchContext, server: BaselineServer, seconds: number) {
  const result: SaturateResult = await ctx.load.saturate({
    url: `${server.origin}/hello`,
    connections: 64,
    seconds,
  });
  ctx.log(
    `B-http: ${Math.round(result.requestsPerSecond)} req/s (p50 ${result.latencyP50} ms, p99 ${result.latencyP99} ms)`,
  );
  return result;
}

/** One open-loop step of B-temporal: `rate` update-with-start calls/s for `seconds`. */
export async function temporalStep(
  ctx: BenchContext,
  server: BaselineServer,
  rate: number,
  seconds: number,
  tag: string,
): Promise<StepResult> {
  const { result, cpu } = await ctx.measure(() =>
    ctx.load.openLoop({
      origin: server.origin,
      rate,
      seconds,
      specs: [{ method: 'POST', path: `/noop/${ctx.stamp}-${tag}-{n}` }],
      timeoutMs: 30_000,
    }),
  );
  return { ...judge(result, 200, ctx.criteria), cpu };
}

export interface SignalStep extends StepResult {
  /** ms from the last acknowledged signal until the workflow's query showed every signal counted. */
  queryLagMs: number | null;
  counted: number;
}

/** One step of B-signal: `rate` signal-with-start calls/s into a fresh counter workflow. */
export async function signalStep(
  ctx: BenchContext,
  server: BaselineServer,
  rate: number,
  seconds: number,
  tag: string,
): Promise<SignalStep> {
  const client = ctx.stack.baselineClient;
  const workflowId = `counter-${ctx.stamp}-${tag}`;
  const { result, cpu } = await ctx.measure(() =>
    ctx.load.openLoop({
      origin: server.origin,
      rate,
      seconds,
      specs: [{ method: 'POST', path: `/signal/${workflowId}` }],
      timeoutMs: 30_000,
    }),
  );
  const judged = { ...judge(result, 200, ctx.criteria), cpu };
  const lastAck = Math.max(...result.samples.filter((s) => s.status === 200).map((s) => s.at + s.latency));
  const handle = client.workflow.getHandle(workflowId);
  let counted = 0;
  let queryLagMs: number | null = null;
  // Past the budget the step has failed: looking longer only takes time from the search.
  const deadline = Math.max(Date.now(), lastAck + ctx.criteria.p99BudgetMs);
  while (Date.now() <= deadline) {
    counted = await handle.query(benchCountQuery).catch(() => counted);
    if (counted >= judged.ok) {
      queryLagMs = Math.round(Math.max(0, Date.now() - lastAck));
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const out: SignalStep = { ...judged, queryLagMs, counted };
  if (queryLagMs === null || queryLagMs > ctx.criteria.p99BudgetMs) {
    const lag = queryLagMs ?? `>${ctx.criteria.p99BudgetMs}`;
    failStep(out, `query shows ${counted}/${judged.ok} ${lag} ms after the last ack`);
  }
  await handle.terminate('bench step done').catch(() => undefined);
  return out;
}

export interface DbBaseline {
  tool: string;
  clients: number;
  seconds: number;
  randomTps: number;
  hotTps: number;
  randomLatencyMs: number | null;
  hotLatencyMs: number | null;
  wallets: number;
  script: string;
}

function findPgbench(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'pgbench'))) return join(dir, 'pgbench');
  }
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  for (const version of readdirSync(root).sort().reverse()) {
    const candidate = join(root, version, 'bin', 'pgbench');
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

const WALLETS = 1_000;
const HOT_USER = 0;
const DEBIT = '12.00';
const debitSql = (userId: string) =>
  `update bench_wallets set balance = balance - ${DEBIT}, updated_at = now()\n` +
  `  where user_id = ${userId} and balance >= ${DEBIT} returning id, balance;`;

/**
 * The conditional debit of src/services/wallet.ts on `bench_wallets`, a copy of `wallets` (same
 * columns, constraints and indexes) so the service's wallets are left alone.
 */
export async function benchDb(ctx: BenchContext, seconds: number): Promise<DbBaseline> {
  const { pool, env, databaseUrl } = ctx.stack;
  await pool.query('create table bench_wallets (like wallets including all)');
  await pool.query(
    `insert into bench_wallets (user_id, balance) select g, 1000000000 from generate_series(1, $1) g`,
    [WALLETS],
  );
  await pool.query(`insert into bench_wallets (user_id, balance) values ($1, 1000000000000)`, [HOT_USER]);
  await pool.query('analyze bench_wallets');
  const clients = env.DATABASE_POOL_SIZE;
  const pgbench = findPgbench();
  const scripts = {
    random: `\\set uid random(1, ${WALLETS})\n${debitSql(':uid')}\n`,
    hot: `${debitSql(String(HOT_USER))}\n`,
  };
  let out: DbBaseline;
  if (pgbench) {
    const dir = await mkdtemp(join(tmpdir(), 'crypto-bench-pgbench-'));
    try {
      const measure = async (name: keyof typeof scripts) => {
        const file = join(dir, `${name}.sql`);
        await writeFile(file, scripts[name]);
        const args = ['-n', '-M', 'extended', '-c', String(clients), '-j', '2', '-T', String(seconds)];
        const { stdout } = await run(pgbench, [...args, '-f', file, databaseUrl], {
          timeout: seconds * 1000 + 60_000,
        });
        const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
        const latency = /latency average = ([\d.]+) ms/.exec(stdout);
        if (!tps) throw new Error(`could not read pgbench's output:\n${stdout}`);
        return { tps: Number(tps[1]), latency: latency ? Number(latency[1]) : null };
      };
      const random = await measure('random');
      const hot = await measure('hot');
      out = {
        tool: `${pgbench} -M extended -c ${clients} -j 2`,
        clients,
        seconds,
        randomTps: Math.round(random.tps),
        hotTps: Math.round(hot.tps),
        randomLatencyMs: random.latency,
        hotLatencyMs: hot.latency,
        wallets: WALLETS,
        script: scripts.random,
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } else {
    ctx.log('pgbench not found: running the same debit loop in Node with pg instead');
    const measure = async (hot: boolean) => {
      const clientPool = new pg.Pool({ connectionString: databaseUrl, max: clients });
      const sql = `update bench_wallets set balance = balance - $1, updated_at = now()
        where user_id = $2 and balance >= $1 returning id, balance`;
      let done = 0;
      const end = Date.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (Date.now() < end) {
            const uid = hot ? HOT_USER : 1 + Math.floor(Math.random() * WALLETS);
            await clientPool.query(sql, [DEBIT, uid]);
            done++;
          }
        }),
      );
      await clientPool.end();
      return done / seconds;
    };
    const randomTps = await measure(false);
    const hotTps = await measure(true);
    out = {
      tool: `node pg loop (pgbench not found), ${clients} clients`,
      clients,
      seconds,
      randomTps: Math.round(randomTps),
      hotTps: Math.round(hotTps),
      randomLatencyMs: null,
      hotLatencyMs: null,
      wallets: WALLETS,
      script: scripts.random,
    };
  }
  await pool.query('drop table bench_wallets');
  ctx.log(`B-db: ${out.randomTps} tps on ${WALLETS} random wallets, ${out.hotTps} tps on one hot wallet`);
  return out;
}
