import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions, type WorkerPlugin } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface WorkerDeps extends ActivityDeps {
  connection: NativeConnection;
  /** The SDK's `default` when absent (TEMPORAL_NAMESPACE unset and no profile naming one). */
  namespace?: string;
  /** Tracing's, when it is on. */
  plugins?: WorkerPlugin[];
}

/** The worker runs every workflow and activity of the service on one task queue. */
export async function createWorker(deps: WorkerDeps, options: Partial<WorkerOptions> = {}): Promise<Worker> {
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    workflowsPath,
    activities: createActivities(deps),
    plugins: deps.plugins,
    ...options,
  });
}
