/**
 * The system: POST /api/v1/orders/ against the real API (in this process), worker and exchange
 * simulator, with many pre-registered, funded users. Two ladders: orders of $12 (bought alone) and
 * orders of $2 (pooled into one crypto's batches). Plus the peak memory of every part.
 */
import { readFileSync } from 'node:fs';
import { hashPassword } from '../src/services/accounts.js';
import type { BenchContext } from './baselines.js';
import { parentOf, serverPids } from './cpu.js';
import { batchLag, type BatchLag } from './pool.js';
import {
  failStep,
  judge,
  settleFromFill,
  summarize,
  type LatencySummary,
  type PooledRow,
  type StepResult,
} from './stats.js';

export interface BenchUser {
  id: number;
  token: string;
}

/**
 * Users with funded wallets, straight into the database: one argon2 hash shared by all (nobody logs
 * in), and each wallet's balance matched by a deposit in the ledger. Access tokens are signed with the
 * API's own JWT settings.
 */
export async function createUsers(ctx: BenchContext, count: number, balance: string): Promise<BenchUser[]> {
  const { pool, api } = ctx.stack;
  const passwordHash = await hashPassword('bench-user-password');
  const { rows } = await pool.query<{ user_id: number }>(
    `with u as (
       insert into users (username, password_hash) select 'bench' || g, $1 from generate_series(1, $2) g returning id),
     w as (insert into wallets (user_id, balance) select id, $3 from u returning id, user_id, balance),
     t as (insert into transactions (wallet_id, type, amount) select id, 'deposit', balance from w)
     select user_id from w order by user_id`,
    [passwordHash, count, balance],
  );
  return rows.map(({ user_id: id }) => ({
    id,
    token: api.app.jwt.sign({ sub: String(id), role: 'user', typ: 'access' }, { expiresIn: 3_600 }),
  }));
}

export interface OrderStep extends StepResult {
  /** Orders placed (201) per second: each is one conditional wallet debit. */
  ordersPerSecond: number;
  settled: number;
  failed: number;
  unsettled: number;
  /** Scheduled request time → the order's final `updated_at`, completed orders only. */
  settle: LatencySummary;
  batches?: number;
  batchesPerSecond?: number;
  meanBatchSize?: number;
  /** Pooled steps: the order that filled each batch → batch opened → bought. */
  batchLag?: BatchLag;
  /**
   * Pooled steps: settle counted from when the order's batch could first be bought (the scheduled
   * time of the order that filled it), completed orders of full batches only. The wait for the
   * other orders of a batch depends on how fast they come, not on the service.
   */
  settleFromFill?: LatencySummary;
}

interface OrderRow extends PooledRow {
  state: string;
}

const SETTLED = ['completed', 'failed'];

async function ordersOf(ctx: BenchContext, ids: number[]): Promise<OrderRow[]> {
  const { rows } = await ctx.stack.pool.query<OrderRow>(
    `select o.id, o.state, o.batch_id, coalesce(b.house_top_up > 0, false) as flushed,
            extract(epoch from o.updated_at) * 1000 as updated_ms
       from orders o left join batches b on b.id = o.batch_id
      where o.id = any($1::bigint[])`,
    [ids],
  );
  return rows.map((r) => ({ ...r, updated_ms: Number(r.updated_ms) }));
}

/**
 * One open-loop step of orders, then waits (bounded) for them to settle. A pooled order below the
 * batch threshold can legitimately wait for the next orders (or AGGREGATION_MAX_WAIT): up to
 * `mayWait` unbatched orders are not counted against the step.
 */
export async function orderStep(
  ctx: BenchContext,
  users: BenchUser[],
  rate: number,
  amount: string,
  mayWait: number,
  seconds: number,
): Promise<OrderStep> {
  const offset = Math.floor(Math.random() * users.length);
  const body = JSON.stringify({ crypto: 'ABAN', amount });
  const specs = users.map((_, i) => {
    const user = users[(i + offset) % users.length]!;
    return {
      method: 'POST',
      path: '/api/v1/orders/',
      headers: { authorization: `Bearer ${user.token}` },
      body,
    };
  });
  const { result, cpu } = await ctx.measure(() =>
    ctx.load.openLoop({
      origin: ctx.stack.api.origin,
      rate,
      seconds,
      specs,
      timeoutMs: 30_000,
      collectId: true,
    }),
  );
  const judged = { ...judge(result, 201, ctx.criteria), cpu };
  const scheduled = new Map(result.samples.filter((s) => s.id).map((s) => [s.id!, s.at]));
  const ids = [...scheduled.keys()];

  let rows: OrderRow[];
  const deadline = Date.now() + 15_000;
  for (;;) {
    rows = ids.length ? await ordersOf(ctx, ids) : [];
    const open = rows.filter((r) => !SETTLED.includes(r.state));
    const waitingForPool = open.filter((r) => r.state === 'aggregated' && r.batch_id === null).length;
    if (open.length === 0 || (open.length === waitingForPool && waitingForPool <= mayWait)) break;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const completed = rows.filter((r) => r.state === 'completed');
  const settle = summarize(completed.map((r) => r.updated_ms - scheduled.get(Number(r.id))!));
  const unsettled = rows.filter((r) => !SETTLED.includes(r.state)).length;
  const step: OrderStep = {
    ...judged,
    ordersPerSecond: judged.throughput,
    settled: rows.length - unsettled,
    failed: rows.filter((r) => r.state === 'failed').length,
    unsettled,
    settle,
  };
  const batchIds = [...new Set(rows.map((r) => r.batch_id).filter((b): b is string => b !== null))];
  if (batchIds.length) {
    const first = Math.min(...result.samples.map((s) => s.at));
    const lastBatchDone = Math.max(...completed.filter((r) => r.batch_id).map((r) => r.updated_ms));
    const span = Math.max(seconds, (lastBatchDone - first) / 1000);
    step.batches = batchIds.length;
    step.batchesPerSecond = Number((batchIds.length / span).toFixed(2));
    step.meanBatchSize = Number((rows.filter((r) => r.batch_id).length / batchIds.length).toFixed(1));
    step.batchLag = await batchLag(ctx.stack, ids);
    step.settleFromFill = summarize(settleFromFill(completed, scheduled));
  }
  if (unsettled > mayWait) failStep(step, `${unsettled} orders not settled 15 s after the step`);
  if (step.failed > 0) failStep(step, `${step.failed} orders failed`);
  return step;
}

/** $12 orders: 3 ABAN at the seeded $4.00, each debited, then bought alone on the exchange. */
export const ORDER_AMOUNT = '3';
/** $2 orders: 0.5 ABAN, pooled five to a $10 batch in the ABAN pool. */
export const POOLED_ORDER_AMOUNT = '0.5';
/** Fewer than $10 left in the pool at the end of a step waits for the next orders. */
export const POOLED_MAY_WAIT = 4;

/** The peak RSS of one process from /proc (kB → MiB), or undefined when it cannot be read. */
export function vmHwmMiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface MemoryReport {
  /** This process: API, worker (and its workflow threads), baselines and simulator. */
  benchProcessPeakRssMiB: number;
  /** Sampled process.memoryUsage().rss during the system ladders only. */
  systemPhasePeakRssMiB: number;
  temporalPeakMiB: number | null;
  /** Sum of VmHWM over the server's processes seen (postmaster and its children). */
  postgresAllProcessesPeakMiB: number | null;
  /** The same over the backends serving the bench database, plus the postmaster. */
  postgresBenchBackendsPeakMiB: number | null;
  postgresNote: string;
}

/** Samples memory once a second until `stop()`: our RSS, and the VmHWM of every postgres process. */
export function sampleMemory(ctx: BenchContext) {
  const { stack } = ctx;
  let peakRss = process.memoryUsage().rss;
  const all = new Map<number, number>();
  const ours = new Map<number, number>();
  let postmaster: number | undefined;
  const sample = async () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    if (!stack.postgres.local) return;
    const { rows } = await stack.pool
      .query<{ pid: number }>('select pid from pg_stat_activity where datname = current_database()')
      .catch(() => ({ rows: [] as { pid: number }[] }));
    for (const { pid } of rows) {
      const hwm = vmHwmMiB(pid);
      if (hwm !== undefined) ours.set(pid, Math.max(ours.get(pid) ?? 0, hwm));
    }
    postmaster ??= rows.map((r) => parentOf(r.pid)).find((p) => p !== undefined && p > 1);
    if (postmaster === undefined) return;
    for (const pid of serverPids(postmaster)) {
      const hwm = vmHwmMiB(pid);
      if (hwm !== undefined) all.set(pid, Math.max(all.get(pid) ?? 0, hwm));
    }
  };
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void sample().finally(() => (busy = false));
  }, 1_000);
  return {
    async stop(): Promise<MemoryReport> {
      clearInterval(timer);
      await sample();
      const sum = (m: Map<number, number>) => (m.size ? [...m.values()].reduce((a, b) => a + b, 0) : null);
      if (postmaster !== undefined && all.has(postmaster)) ours.set(postmaster, all.get(postmaster)!);
      const round = (v: number | null | undefined) => (v == null ? null : Math.round(v));
      return {
        benchProcessPeakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        systemPhasePeakRssMiB: Math.round(peakRss / 1024 / 1024),
        temporalPeakMiB: round(vmHwmMiB(stack.temporal.pid)),
        postgresAllProcessesPeakMiB: stack.postgres.local ? round(sum(all)) : null,
        postgresBenchBackendsPeakMiB: stack.postgres.local ? round(sum(ours)) : null,
        postgresNote: stack.postgres.local
          ? 'VmHWM summed per process: shared buffers are counted in every process that touched them; "all processes" also counts the backends of other databases on the same server'
          : 'n/a: Postgres is not on this machine',
      };
    },
  };
}
