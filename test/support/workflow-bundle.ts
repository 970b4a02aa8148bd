import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode, type WorkflowBundleOption } from '@temporalio/worker';
import { workflowsPath } from '../../src/worker/worker.js';

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message: string) => console.error(message),
};

const bundle = () => bundleWorkflowCode({ workflowsPath, logger: quietLogger });

/** Bundles the workflow code into `file`; the run's global setup does this once for every file. */
export async function writeWorkflowBundle(file: string): Promise<void> {
  await writeFile(file, (await bundle()).code);
}

let bundled: Promise<WorkflowBundleOption> | undefined;
/**
 * The workflow code for a test worker: the run's bundle (bundling takes seconds of CPU, the same for
 * every file), or bundled here once per file when the global setup did not run.
 */
export function workflowCode(): Promise<WorkflowBundleOption> {
  const codePath = process.env.TEST_WORKFLOW_BUNDLE;
  return (bundled ??= codePath ? Promise.resolve({ codePath }) : bundle());
}
