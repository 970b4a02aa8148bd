/**
 * `npm run bench:shards`: the POOL_SHARDS simulation (bench/pool-shards.ts) on its own, with the
 * threshold and max wait of the service's configuration and the one-workflow ceiling of the newest
 * bench result (pool-direct, else B-signal), or BENCH_POOL_CEILING signals/s.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadEnv } from '../src/config/env.js';
import { renderSweep, shardSweep } from './pool-shards.js';
import { poolCeiling, type Results } from './report.js';

const dir = fileURLToPath(new URL('./results/', import.meta.url));

async function newestCeiling(): Promise<{ ceiling: number; source: string } | undefined> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
  for (const file of files.reverse()) {
    const results = JSON.parse(await readFile(`${dir}${file}`, 'utf8')) as Results;
    const found = poolCeiling(results);
    if (found) return { ceiling: found.ceiling, source: `${found.source}, run ${file.replace('.json', '')}` };
  }
  return undefined;
}

const env = loadEnv({ ...process.env, LOG_LEVEL: 'warn' });
const given = Number(process.env.BENCH_POOL_CEILING);
const found =
  Number.isFinite(given) && given > 0
    ? { ceiling: given, source: 'BENCH_POOL_CEILING' }
    : await newestCeiling();
const { ceiling, source } = found ?? { ceiling: 400, source: 'assumed: no bench result yet' };
process.stdout.write(
  `${renderSweep(
    shardSweep({
      ceiling,
      ceilingSource: source,
      thresholdCents: Number(env.AGGREGATION_THRESHOLD),
      maxWaitMs: env.AGGREGATION_MAX_WAIT,
    }),
  )}\n`,
);
