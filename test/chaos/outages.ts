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

async function orderRuns(stack: ChaosStack): Promise<Span[]> {
  const runs: Span[] = [];
  for await (const wf of stack.temporal.workflow.list({ query: `WorkflowType = 'orderWorkflow'` })) {
    runs.push({ name: wf.workflowId, start: wf.startTime.getTime(), end: wf.closeTime?.getTime() });
  }
  return runs;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const label = (o: Outage) => `${o.kind}-${o.index + 1} out ${seconds((o.to ?? Date.now()) - o.from)}`;

/** Something waited on: an order workflow, or a request until its final answer. */
interface Span {
  name: string;
  start: number;
  end?: number;
}

/**
 * When the faults that can hold an order up began (wall clock): kills, API stops, Temporal and
 * Postgres restarts, and exchange phases with errors, drops or latency.
 */
function faultStarts(stack: ChaosStack): { at: number; kind: string }[] {
  const origin = Date.now() - stack.elapsed();
  return stack.faults
    .filter((f) => {
      if (f.kind === 'exchange-faults') {
        const now = JSON.parse(f.detail ?? '{}') as Record<string, number>;
        return (now.failure_rate ?? 0) > 0 || (now.drop_rate ?? 0) > 0 || (now.latency_ms ?? 0) > 0;
      }
      return ['worker-kill', 'api-stop', 'temporal-restart', 'postgres-restart'].includes(f.kind);
    })
    .map((f) => ({ at: origin + f.at, kind: f.kind }));
}

/**
 * For every outage: the orders in flight at its start (an order workflow running, for a worker; a
 * request without its final answer, for an API) and how long after the start each settled; a
 * violation when that exceeds the outage's length plus `slackMs`. An order that a later fault
 * found still in flight is held up by that one too, so it is measured against the last fault it
 * lived through (if that is an outage) and not against this one. For a worker outage while
 * another worker ran, also that order workflows started during the outage completed before the
 * killed worker came back (the survivor took them over). `summary` says how each outage went.
 */
export async function checkOutages(
  stack: ChaosStack,
  { load, slackMs, workers }: { load: LogicalOrder[]; slackMs: number; workers: number },
): Promise<{ results: InvariantResult[]; summary: string[] }> {
  const now = Date.now();
  const runs: Span[] = await orderRuns(stack);
  const requests: Span[] = load.map((o) => ({ name: o.key, start: o.startedAt, end: o.settledAt }));
  const allFaults = faultStarts(stack);
  // A running workflow does not need the API: an API's stop holds up requests, not workflows.
  const workflowFaults = allFaults.filter((f) => f.kind !== 'api-stop');
  const waits: string[] = [];
  const takeover: string[] = [];
  let measured = 0;
  const summary: string[] = [];
  for (const outage of stack.outages) {
    const length = (outage.to ?? now) - outage.from;
    const limit = length + slackMs;
    let longest = 0;
    let count = 0;
    let overtaken = 0;
    const worker = outage.kind === 'worker';
    const faults = worker ? workflowFaults : allFaults;
    for (const span of worker ? runs : requests) {
      if (span.start >= outage.from || (span.end !== undefined && span.end <= outage.from)) continue;
      // The outage's own kill or stop is recorded a moment before its start.
      if (faults.some(({ at }) => at > outage.from + 50 && at < (span.end ?? now))) {
        overtaken++;
        continue;
      }
      count++;
      const waited = (span.end ?? now) - outage.from;
      longest = Math.max(longest, waited);
      if (waited > limit) {
        const how = span.end === undefined ? 'still waiting' : 'settled';
        waits.push(
          `${label(outage)} (limit ${seconds(limit)}): ${span.name} ${how} ${seconds(waited)} after`,
        );
      }
    }
    measured += count;
    summary.push(
      `${label(outage)}: ${count} orders in flight, the last settled ${seconds(longest)} after` +
        (overtaken ? ` (${overtaken} more, still in flight at a later fault, measured there)` : ''),
    );
    if (outage.kind === 'worker' && workers > 1 && outage.to !== undefined) {
      const during = runs.filter(
        (r) => r.start > outage.from && r.end !== undefined && r.end < outage.to!,
      ).length;
      summary.push(`${label(outage)}: ${during} order workflows started and closed while it was down`);
      if (during === 0)
        takeover.push(`${label(outage)}: no order started during the outage closed before it ended`);
    }
  }
  const results: InvariantResult[] = [
    {
      name: 'no order waits longer than its outage',
      ok: waits.length === 0,
      checked: measured,
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
