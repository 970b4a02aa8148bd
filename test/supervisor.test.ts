import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { supervise, type Supervised } from '../scripts/supervisor.js';

// Real child processes: each run appends its start time to a file, then does what the script says.
let dir: string;
let supervised: Supervised | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'supervisor-'));
});
afterEach(async () => {
  await supervised?.stop(1_000);
  supervised = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function nodeChild(script: string) {
  const file = join(dir, 'starts');
  const code = `require('fs').appendFileSync(${JSON.stringify(file)}, Date.now() + '\\n'); ${script}`;
  return {
    start: () => spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'], detached: true }),
    starts: () => {
      try {
        return readFileSync(file, 'utf8').trim().split('\n').map(Number);
      } catch {
        return [];
      }
    },
  };
}

const until = async (check: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

it('restarts a killed child after a back-off, says so, and keeps it running', async () => {
  const child = nodeChild('setInterval(() => undefined, 1000);');
  const lines: string[] = [];
  const gaveUp: string[] = [];
  supervised = supervise({
    name: 'worker',
    start: child.start,
    log: (line) => lines.push(line),
    onGiveUp: (reason) => void gaveUp.push(reason),
    initialBackoffMs: 200,
  });
  await until(() => child.starts().length === 1);
  const first = supervised.current()!;
  process.kill(first.pid!, 'SIGKILL');
  await until(() => child.starts().length === 2);
  const [started, restarted] = child.starts();
  expect(restarted! - started!).toBeGreaterThanOrEqual(200);
  expect(lines).toEqual([
    expect.stringMatching(/^worker exited unexpectedly \(SIGKILL\).*restarting in 0\.2 s/),
  ]);
  expect(supervised.current()?.pid).not.toBe(first.pid);
  expect(gaveUp).toEqual([]);

  // A requested stop is not a crash: nothing restarts it.
  const last = supervised.current()!;
  await supervised.stop(1_000);
  expect(last.signalCode).toBe('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  expect(child.starts()).toHaveLength(2);
  expect(lines).toHaveLength(1);
});

it('backs off longer after each crash in a row and gives up on a child that keeps crashing', async () => {
  const child = nodeChild('process.exit(3);');
  const lines: string[] = [];
  const gaveUp: string[] = [];
  supervised = supervise({
    name: 'api',
    start: child.start,
    log: (line) => lines.push(line),
    onGiveUp: (reason) => void gaveUp.push(reason),
    maxCrashes: 4,
    windowMs: 60_000,
    initialBackoffMs: 100,
  });
  await until(() => gaveUp.length === 1);
  const starts = child.starts();
  expect(starts).toHaveLength(4);
  const gaps = starts.slice(1).map((at, i) => at - starts[i]!);
  expect(gaps[0]).toBeGreaterThanOrEqual(100);
  expect(gaps[1]).toBeGreaterThanOrEqual(200);
  expect(gaps[2]).toBeGreaterThanOrEqual(400);
  expect(lines.slice(0, 3).map((l) => l.match(/restarting in (\S+ s)/)?.[1])).toEqual([
    '0.1 s',
    '0.2 s',
    '0.4 s',
  ]);
  expect(lines[3]).toMatch(/^api crashed 4 times within 60\.0 s \(last: code 3\): giving up$/);
  expect(gaveUp).toEqual([expect.stringContaining('api crashed 4 times')]);
  // Given up: no further start.
  await new Promise((r) => setTimeout(r, 1_000));
  expect(child.starts()).toHaveLength(4);
});

it('a crash long after the last one starts the back-off afresh', async () => {
  const child = nodeChild('setTimeout(() => process.exit(1), 300);');
  const lines: string[] = [];
  supervised = supervise({
    name: 'exchange',
    start: child.start,
    log: (line) => lines.push(line),
    onGiveUp: () => undefined,
    maxCrashes: 10,
    initialBackoffMs: 100,
    stableAfterMs: 200,
  });
  await until(() => lines.length === 3);
  expect(lines.map((l) => l.match(/restarting in (\S+ s)/)?.[1])).toEqual(['0.1 s', '0.1 s', '0.1 s']);
});
