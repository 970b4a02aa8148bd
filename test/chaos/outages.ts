/**
 * What a process outage may cost: an order in flight when a worker was killed or an API restarted
 * must not wait much longer than the outage lasted, and while one worker of several is down the
 * others must carry the load (not merely the restarted worker, once it is back).
 */
import type { ChaosStack, Outage } from './harness.js';
import type { InvariantResult } from './invariants.js';
import type { LogicalOrder } from './load.js';

/**
 * The slack on top of an outage's length, and why each part is there:
 * - 30 s: an activity that was running on the killed worker is retried only once its
 *   startToCloseTimeout (30 s, src/workflows/activity-options.ts) expires; nothing else notices it;
 * - the pool's max wait: an order under the threshold legitimately waits for its pool to flush;
 * - `marginMs`: a busy two-core machine (the restarted worker's start-up, history replays).
 */
export function outageSlackMs(aggregationMaxWaitMs: number, marginMs = 20_000): number {
  return 30_000 + aggregationMaxWaitMs + marginMs;
}

interface OrderRun {
  workflowId: string;
  start: number;
  close?: number;
}

async function orderRuns(stack: ChaosStack): Promise<OrderRun[]> {
  const runs: OrderRun[] = [];
  for await (const wf of stack.temporal.workflow.list({ query: `WorkflowType = 'orderWorkflow'` })) {
    runs.push({
      workflowId: wf.workflowId,
      start: wf.startTime.getTime(),
      close: wf.closeTime?.getTime(),
    });
  }
  return runs;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const label = (o: Outage) => `${o.kind}-${o.index + 1} out ${seconds((o.to ?? Date.now()) - o.from)}`;

/**
 * For every outage: the orders in flight at its start (an order workflow running, for a worker; a
 * request without its final answer, for an API) and how long after the start each settled; a
 * violation when that exceeds the outage's length plus `slackMs`. For a worker outage while
 * another worker ran, also that order workflows started during the outage completed before the
 * killed worker came back (the survivor took them over). `summary` says how each outage went.
 */
export async function checkOutages(
  stack: ChaosStack,
  { load, slackMs, workers }: { load: LogicalOrder[]; slackMs: number; workers: number },
): Promise<{ results: InvariantResult[]; summary: string[] }> {
  const now = Date.now();
  const runs = await orderRuns(stack);
  const waits: string[] = [];
  const takeover: string[] = [];
  let inFlight = 0;
  const summary: string[] = [];
  for (const outage of stack.outages) {
    const length = (outage.to ?? now) - outage.from;
    const limit = length + slackMs;
    let longest = 0;
    let count = 0;
    const late: string[] = [];
    if (outage.kind === 'worker') {
      for (const run of runs) {
        if (run.start >= outage.from || (run.close !== undefined && run.close <= outage.from)) continue;
        count++;
        const waited = (run.close ?? now) - outage.from;
        longest = Math.max(longest, waited);
        if (waited > limit)
          late.push(`${run.workflowId} ${run.close ? 'closed' : 'still running'} ${seconds(waited)} after`);
      }
      if (workers > 1 && outage.to !== undefined) {
        const during = runs.filter(
          (r) => r.start > outage.from && r.close !== undefined && r.close < outage.to!,
        ).length;
        summary.push(`${label(outage)}: ${during} order workflows started and closed while it was down`);
        if (during === 0)
          takeover.push(`${label(outage)}: no order started during the outage closed before it ended`);
      }
    } else {
      for (const o of load) {
        if (o.startedAt >= outage.from || (o.settledAt !== undefined && o.settledAt <= outage.from)) continue;
        count++;
        const waited = (o.settledAt ?? now) - outage.from;
        longest = Math.max(longest, waited);
        if (waited > limit) late.push(`${o.key} answered ${seconds(waited)} after`);
      }
    }
    inFlight += count;
    summary.push(`${label(outage)}: ${count} orders in flight, the last settled ${seconds(longest)} after`);
    waits.push(...late.map((l) => `${label(outage)} (limit ${seconds(limit)}): ${l}`));
  }
  const results: InvariantResult[] = [
    {
      name: 'no order waits longer than its outage',
      ok: waits.length === 0,
      checked: inFlight,
      violations: waits,
    },
  ];
  if (workers > 1) {
    const outages = stack.outages.filter((o) => o.kind === 'worker').length;
    results.push({
      name: 'the surviving workers take over',
      ok: takeover.length === 0,
      checked: outages,
      violations: takeover,
    });
  }
  return { results, summary };
}
