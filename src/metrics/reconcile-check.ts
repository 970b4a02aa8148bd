import type { MikroORM } from '@mikro-orm/postgresql';
import { reconcileSnapshot } from '../services/ledger.js';
import type { WorkerMetrics } from './worker-metrics.js';

export interface ReconcileCheck {
  /** Stops scheduling checks and waits for the one in flight, if any. */
  stop(): Promise<void>;
}

interface CheckLogger {
  warn(message: string, meta?: Record<string, unknown>): void;
}

/** A check that runs longer than this is cancelled rather than left holding a snapshot. */
const STATEMENT_TIMEOUT_MS = 60_000;

/**
 * Runs `make reconcile`'s check every `intervalMs` and exports its result, so an alert fires when
 * a wallet or a purchase disagrees with its ledger. The next check is scheduled when one ends, so
 * checks never overlap; each reads one snapshot (services/ledger.ts reconcileSnapshot).
 */
export function startReconcileCheck(
  orm: MikroORM,
  metrics: WorkerMetrics,
  intervalMs: number,
  log: CheckLogger,
): ReconcileCheck {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  async function check(): Promise<void> {
    const started = performance.now();
    try {
      const result = await reconcileSnapshot(orm.em.fork(), STATEMENT_TIMEOUT_MS);
      const failures = result.mismatches.length + result.house.failures.length;
      metrics.reconcileFailures.set(failures);
      metrics.reconcileRuns.inc({ outcome: failures === 0 ? 'ok' : 'failed' });
      if (failures === 0) metrics.reconcileLastSuccess.set(Date.now() / 1000);
      else log.warn('reconcile check found disagreements: run make reconcile for the list', { failures });
    } catch (error) {
      metrics.reconcileRuns.inc({ outcome: 'error' });
      log.warn('reconcile check could not run', { error: String(error) });
    } finally {
      metrics.reconcileDuration.set((performance.now() - started) / 1000);
    }
  }

  function schedule(delayMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = check().finally(() => schedule(intervalMs));
    }, delayMs);
    timer.unref();
  }

  schedule(0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
