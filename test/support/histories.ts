import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { HistoryAndWorkflowId } from '@temporalio/client';
import { historyFromJson } from './history-json.js';

/** Recorded workflow histories (scripts/record-histories.ts writes them, test/replay.test.ts replays them). */
export const HISTORIES_DIR = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));

/**
 * Every history the recorder writes, by file name: the ways an order and a pool run today. A
 * deploy must replay each of them, since workflows like these may be running when it happens.
 */
export const RECORDED_HISTORIES = [
  'order-bought-alone',
  'order-pooled',
  'pool-settled-batch',
  'order-held-approved',
  'order-held-timed-out',
  'order-refunded',
  'order-refused',
  'order-cancelled-in-pool',
  'pool-cancelled-order',
  // One pool's first two runs: the first ends in a continue-as-new, the second starts from it.
  'pool-continued-as-new-run-1',
  'pool-continued-as-new-run-2',
] as const;

export type RecordedHistory = (typeof RECORDED_HISTORIES)[number];

export const historyFile = (name: string) => join(HISTORIES_DIR, `${name}.json`);

/** A recorded history, named for replay by its file (replay takes any workflow id). */
export async function loadHistory(name: string): Promise<HistoryAndWorkflowId> {
  const json: unknown = JSON.parse(await readFile(historyFile(name), 'utf8'));
  return { workflowId: name, history: historyFromJson(json) };
}
