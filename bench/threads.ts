/**
 * CPU of this process by thread kind, from /proc/self/task: the main thread (API, activities,
 * simulator, baseline routes), the workflow threads, V8's helper threads (GC, compilation), the
 * Temporal core's runtime threads and libuv's pool.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds by thread kind. */
export type ThreadCpu = Record<string, number>;

/** What a thread's name says it is. */
function kindOf(tid: string, name: string): string {
  if (tid === String(process.pid)) return 'main';
  if (name.startsWith('workflow-proces') || name === 'WorkerThread') return 'workflow threads';
  if (name.startsWith('V8')) return 'V8 helpers';
  if (name.startsWith('tokio') || name.startsWith('temporal')) return 'Temporal core';
  if (name.startsWith('libuv')) return 'libuv pool';
  return 'other';
}

export function threadCpu(): ThreadCpu {
  const out: ThreadCpu = {};
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const kind = kindOf(tid, name);
      out[kind] = (out[kind] ?? 0) + (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}
