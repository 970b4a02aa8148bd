import { fileURLToPath } from 'node:url';
import {
  NativeConnection,
  Worker,
  Runtime,
  bundleWorkflowCode,
  type WorkflowBundleOption,
  type State,
  type WorkerOptions,
  type WorkerPlugin,
} from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { watchSettlements } from '../activities/settlements.js';
import { poolTaskQueue } from '../workflows/definitions.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface WorkerDeps extends Omit<ActivityDeps, 'settlements'> {
  /** POOL_SETTLE_WAIT: above 0, the worker watches its pooled orders' settlements (`watchSettlements`). */
  poolSettleWaitMs?: number;
  connection: NativeConnection;
  /** The SDK's `default` when absent (TEMPORAL_NAMESPACE unset and no profile naming one). */
  namespace?: string;
  /** Tracing's, when it is on. */
  plugins?: WorkerPlugin[];
}

/**
 * The service's worker: one Temporal worker for the orders' task queue and one for the pools'
 * (`<task queue>-pools`), in one process. A pool's workflow tasks then never wait behind hundreds
 * of order tasks, so a full pool is bought as soon as its last order arrives.
 */
export interface ServiceWorker {
  run(): Promise<void>;
  /** Runs until `fn` settles, then shuts down and waits for the in-flight tasks. */
  runUntil<T>(fn: Promise<T> | (() => Promise<T>)): Promise<T>;
  shutdown(): void;
  getState(): State;
}

export async function createWorker(
  deps: WorkerDeps,
  options: Partial<WorkerOptions> = {},
): Promise<ServiceWorker> {
  // With a settle wait, the worker watches the order events for its pooled orders' settlements (one
  // LISTEN connection, opened with the first watch, closed when the worker stops).
  const settlements =
    (deps.poolSettleWaitMs ?? 0) > 0
      ? watchSettlements(deps.orm.config.get('clientUrl')!, deps.poolSettleWaitMs!, (error) =>
          Runtime.instance().logger.warn('the order events listener failed; it reconnects', {
            error: String(error),
          }),
        )
      : undefined;
  const activities = createActivities({ ...deps, settlements });
  // Both workers run the same workflow code: bundled once, not once per worker.
  const workflowBundle =
    options.workflowBundle ?? (await bundle(deps, options.workflowsPath ?? workflowsPath));
  const create = (taskQueue: string) =>
    Worker.create({
      connection: deps.connection,
      namespace: deps.namespace,
      taskQueue,
      activities,
      plugins: deps.plugins,
      ...options,
      workflowBundle,
      workflowsPath: undefined,
    });
  const workers = await Promise.all([create(deps.taskQueue), create(poolTaskQueue(deps.taskQueue))]);
  const run = async () => {
    try {
      await Promise.all(workers.map((w) => w.run()));
    } finally {
      await settlements?.close();
    }
  };
  const shutdown = () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  };
  return {
    run,
    shutdown,
    getState: () => workers[0]!.getState(),
    async runUntil<T>(fn: Promise<T> | (() => Promise<T>)): Promise<T> {
      const running = run();
      // A worker that fails ends the wait too.
      const failed = running.then(() => new Promise<never>(() => undefined));
      try {
        return await Promise.race([typeof fn === 'function' ? fn() : fn, failed]);
      } finally {
        shutdown();
        await running;
      }
    },
  };
}

/**
 * The workflow code with the workflow interceptors the plugins add (tracing's), as Worker.create
 * would bundle it for each worker.
 */
async function bundle(deps: WorkerDeps, path: string): Promise<WorkflowBundleOption> {
  let configured: WorkerOptions = { taskQueue: deps.taskQueue, workflowsPath: path };
  for (const plugin of deps.plugins ?? [])
    configured = (await plugin.configureWorker?.(configured)) ?? configured;
  return bundleWorkflowCode({
    workflowsPath: path,
    logger: Runtime.instance().logger,
    workflowInterceptorModules: configured.interceptors?.workflowModules,
  });
}
