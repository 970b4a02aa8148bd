import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

const projectRoot = resolve(import.meta.dirname, '..');
const toolsBin = join(projectRoot, '.tools', 'bin');

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The Temporal CLI: TEMPORAL_CLI_PATH, then the project's .tools/bin, then PATH. */
export function temporalCliPath(): string | undefined {
  const configured = process.env.TEMPORAL_CLI_PATH;
  if (configured) return configured;
  const local = join(toolsBin, 'temporal');
  return existsSync(local) ? local : onPath('temporal');
}

/** The time-skipping test server: TEMPORAL_TEST_SERVER_PATH, then .tools/bin; undefined lets the SDK download it. */
export function temporalTestServerPath(): string | undefined {
  const configured = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (configured) return configured;
  const local = join(toolsBin, 'temporal-test-server');
  return existsSync(local) ? local : undefined;
}
