import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { envSchema, loadEnv } from '../src/config/env.js';
import { simulatorEnvSchema } from '../src/exchange/simulator/config.js';

const example = parseEnv(readFileSync(new URL('../.env.example', import.meta.url), 'utf8'));

describe('configuration', () => {
  it('.env.example lists every setting of the service and the simulator, and nothing else', () => {
    const known = [
      ...new Set([
        ...Object.keys(envSchema.shape),
        ...Object.keys(simulatorEnvSchema.shape),
        'TEMPORAL_CLI_PATH',
        'TEMPORAL_TEST_SERVER_PATH',
      ]),
    ].sort();
    expect(Object.keys(example).sort()).toEqual(known);
  });

  it('.env.example is valid and equals the defaults', () => {
    expect(loadEnv(example)).toEqual(loadEnv({}));
  });

  it('fails fast, listing every invalid setting', () => {
    expect(() =>
      loadEnv({ API_PORT: 'eighty', AGGREGATION_MAX_WAIT: 'soon', RATE_LIMIT_USER: '10' }),
    ).toThrow(
      /Invalid configuration:\n {2}API_PORT: .*\n {2}AGGREGATION_MAX_WAIT: "soon" is not a duration.*\n {2}RATE_LIMIT_USER: "10" is not a limit/,
    );
  });

  it('refuses to start in production with the development signing key or a short one', () => {
    expect(() => loadEnv({ APP_ENV: 'production' })).toThrow(/JWT_SECRET: must be set to a random value/);
    expect(() => loadEnv({ APP_ENV: 'production', JWT_SECRET: 'short' })).toThrow(/JWT_SECRET/);
    expect(loadEnv({ APP_ENV: 'production', JWT_SECRET: 'x'.repeat(48) }).APP_ENV).toBe('production');
  });
});
