/**
 * CPU used by each part of the stack during a step, from /proc: this process (API, worker, baselines,
 * simulator), the Temporal dev server, Postgres (the postmaster and its children), the load generator,
 * and the whole machine (which includes whatever else runs on it).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { threadCpu, type ThreadCpu } from './threads.js';
import type { Stack } from './stack.js';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) of one process, or 0 when it cannot be read. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

export function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** The postmaster and every process it forked (backends, background workers). */
export function serverPids(postmaster: number): number[] {
  const pids = [postmaster];
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry) && parentOf(Number(entry)) === postmaster) pids.push(Number(entry));
  }
  return pids;
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

export interface CpuPids {
  temporal: number;
  loadgen?: number;
  /** Known once a backend has been seen; Postgres on another machine stays undefined. */
  postmaster?: number;
}

interface Snapshot {
  at: number;
  bench: number;
  temporal: number;
  /** CPU seconds per Postgres process. */
  postgres: Map<number, number>;
  loadgen: number;
  machine: { busy: number; total: number };
  threads: ThreadCpu;
}

/** CPU use during a step, in % of one core (200 % = both cores of a 2-core machine). */
export interface CpuUse {
  bench: number;
  temporal: number;
  postgres: number | null;
  loadgen: number;
  /** Every process on the machine, in % of one core. */
  machine: number;
  /** This process by thread kind (bench/threads.ts), in % of one core. */
  threads: Record<string, number>;
  /** How long the step waited, before it began, for the stack to work off the step before it. */
  quietWaitMs?: number;
}

export function snapshot(pids: CpuPids): Snapshot {
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    bench: (usage.user + usage.system) / 1e6,
    temporal: cpuSeconds(pids.temporal),
    postgres: new Map(pids.postmaster ? serverPids(pids.postmaster).map((p) => [p, cpuSeconds(p)]) : []),
    loadgen: pids.loadgen ? cpuSeconds(pids.loadgen) : 0,
    machine: machineTicks(),
    threads: threadCpu(),
  };
}

/** Postgres backends that exit during the step take their CPU time with them (a slight undercount). */
export function cpuBetween(before: Snapshot, after: Snapshot, cores: number, hasPostgres: boolean): CpuUse {
  const seconds = (after.at - before.at) / 1000;
  const pct = (v: number) => Math.round((v / seconds) * 100);
  const ticks = after.machine.total - before.machine.total;
  return {
    bench: pct(after.bench - before.bench),
    temporal: pct(after.temporal - before.temporal),
    postgres: hasPostgres
      ? pct([...after.postgres].reduce((sum, [pid, secs]) => sum + secs - (before.postgres.get(pid) ?? 0), 0))
      : null,
    loadgen: pct(after.loadgen - before.loadgen),
    machine: ticks > 0 ? Math.round(((after.machine.busy - before.machine.busy) / ticks) * cores * 100) : 0,
    threads: Object.fromEntries(
      Object.entries(after.threads).map(([kind, secs]) => [kind, pct(secs - (before.threads[kind] ?? 0))]),
    ),
  };
}

export const formatCpu = (cpu: CpuUse | undefined) =>
  cpu
    ? `cpu% app ${cpu.bench} tmp ${cpu.temporal} pg ${cpu.postgres ?? 'n/a'} load ${cpu.loadgen} other ${Math.max(
        0,
        cpu.machine - cpu.bench - cpu.temporal - (cpu.postgres ?? 0) - cpu.loadgen,
      )}${cpu.quietWaitMs && cpu.quietWaitMs >= 1_000 ? `; began ${(cpu.quietWaitMs / 1000).toFixed(1)} s late (stack busy)` : ''}`
    : '';

/** CPU milliseconds each part spent per completed operation: far less sensitive to noise than rates. */
export function cpuPerOp(cpu: CpuUse | undefined, throughput: number) {
  if (!cpu || throughput <= 0) return undefined;
  const ms = (pct: number | null) => (pct === null ? null : Number(((pct * 10) / throughput).toFixed(1)));
  return { app: ms(cpu.bench), temporal: ms(cpu.temporal), postgres: ms(cpu.postgres) };
}

/** The processes a step's CPU is read from: Temporal, the load generator, and a local Postgres. */
export async function stackPids(stack: Stack, loadgen: number | undefined): Promise<CpuPids> {
  const pids: CpuPids = { temporal: stack.temporal.pid, loadgen };
  if (stack.postgres.local) {
    const backends = await stack.pool.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = current_database()',
    );
    pids.postmaster = backends.rows.map((r) => parentOf(r.pid)).find((p) => p !== undefined && p > 1);
  }
  return pids;
}

/** A stack using less than this (app + Temporal + Postgres, % of one core) has nothing left to do. */
const QUIET_PCT = 40;
const QUIET_WINDOW_MS = 300;
const QUIET_MAX_MS = 15_000;

/**
 * Waits until the stack's CPU over a short window falls below QUIET_PCT (at most QUIET_MAX_MS), and
 * says how long that took. An overloaded step leaves work behind (workflows still running, a pool
 * catching up, garbage): a step started on top of it fails for what the step before it did.
 */
async function untilQuiet(pids: CpuPids, cores: number): Promise<number> {
  const start = performance.now();
  for (;;) {
    const before = snapshot(pids);
    await new Promise((r) => setTimeout(r, QUIET_WINDOW_MS));
    const use = cpuBetween(before, snapshot(pids), cores, pids.postmaster !== undefined);
    const waited = Math.round(performance.now() - start);
    if (use.bench + use.temporal + (use.postgres ?? 0) < QUIET_PCT || waited >= QUIET_MAX_MS) return waited;
  }
}

/** Runs `work` once the stack is quiet, and reports the CPU each part of it used meanwhile. */
export function measurer(pids: CpuPids) {
  const cores = cpus().length;
  return async <T>(work: () => Promise<T>): Promise<{ result: T; cpu: CpuUse }> => {
    const quietWaitMs = await untilQuiet(pids, cores);
    const before = snapshot(pids);
    const result = await work();
    const cpu = cpuBetween(before, snapshot(pids), cores, pids.postmaster !== undefined);
    return { result, cpu: { ...cpu, quietWaitMs } };
  };
}
