import { accessSync, constants } from 'node:fs';
import {
  loadClientConfigProfile,
  toClientOptions,
  type ClientConfigProfile,
  type ConfigDataSource,
} from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import type { Env } from './env.js';

/** Where `make dev` and the tests run Temporal, used when neither the environment nor a profile says. */
export const TEMPORAL_DEFAULT_ADDRESS = '127.0.0.1:7233';
export const TEMPORAL_DEFAULT_NAMESPACE = 'default';

/**
 * The variables `@temporalio/envconfig` reads, the same as the Temporal CLI's. env.ts validates
 * them; they reach the SDK only from there, so the documented list is the complete one.
 */
export const TEMPORAL_CONNECTION_VARIABLES = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_PROFILE',
  'TEMPORAL_CONFIG_FILE',
] as const;

export type TemporalEnv = Partial<Pick<Env, (typeof TEMPORAL_CONNECTION_VARIABLES)[number]>>;

/** What both the client `Connection` and the worker's `NativeConnection` are opened with. */
export interface TemporalConnectionSettings {
  connectionOptions: NativeConnectionOptions & { address: string };
  namespace: string;
}

/**
 * The variables that locate the default config file (`<config dir>/temporalio/temporal.toml`), as
 * the SDK and the CLI find it; taken from the process unless a caller passes its own.
 */
type ConfigDirEnv = Partial<Record<'HOME' | 'XDG_CONFIG_HOME' | 'APPDATA', string>>;

const TLS_FILES = [
  ['clientCert', 'TLS client certificate', 'TEMPORAL_TLS_CLIENT_CERT_PATH', 'client_cert_path'],
  ['clientKey', 'TLS client key', 'TEMPORAL_TLS_CLIENT_KEY_PATH', 'client_key_path'],
  ['serverCACert', 'TLS server CA certificate', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'server_ca_cert_path'],
] as const;

/**
 * Resolves the connection the way Temporal's own tools do: a profile (`TEMPORAL_PROFILE`, default
 * `default`) of the config file (`TEMPORAL_CONFIG_FILE`, else the user's `temporalio/temporal.toml`
 * if there is one), overridden by the `TEMPORAL_*` variables. An API key turns TLS on unless
 * `TEMPORAL_TLS=false`. Every file named is read now, so a missing certificate stops start-up with a
 * message naming it rather than failing the first call.
 */
export function resolveTemporalConnection(
  env: TemporalEnv,
  configDirEnv: ConfigDirEnv = process.env,
): TemporalConnectionSettings {
  const file = env.TEMPORAL_CONFIG_FILE;
  // Where the settings come from, for the error messages (never a secret).
  const source = file ? `${file}, profile "${env.TEMPORAL_PROFILE ?? 'default'}"` : 'the environment';
  const fail = (problem: string): never => {
    throw new Error(`Invalid Temporal connection settings (${source}): ${problem}`);
  };
  // The SDK treats a config file that does not exist as empty; one that was named must exist.
  if (file) readable(file, () => fail(`TEMPORAL_CONFIG_FILE ${file} cannot be read`));

  const overrides: Record<string, string> = {};
  for (const name of TEMPORAL_CONNECTION_VARIABLES) {
    const value = env[name];
    if (value !== undefined) overrides[name] = String(value);
  }
  for (const name of ['HOME', 'XDG_CONFIG_HOME', 'APPDATA'] as const) {
    const value = configDirEnv[name];
    if (value && !file) overrides[name] = value;
  }

  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: overrides, configFileStrict: true });
  } catch (error) {
    // The SDK reads a file without any [profile.…] table as a TypeError of its own.
    if (error instanceof TypeError)
      return fail(`the config file has no [profile.${env.TEMPORAL_PROFILE ?? 'default'}] table`);
    return fail((error as Error).message);
  }
  const tls = profile.tls;
  if (tls && !tls.disabled) {
    for (const [key, what, variable, tomlKey] of TLS_FILES) {
      const data = tls[key];
      if (data && 'path' in data)
        readable(data.path, (reason) =>
          fail(`${what} ${data.path} (${variable} or ${tomlKey}) cannot be read: ${reason}`),
        );
    }
    // The SDK would silently connect without a client certificate when only one half is given.
    if (hasData(tls.clientCert) !== hasData(tls.clientKey))
      fail('a TLS client certificate and its key must be given together');
  }

  let options;
  try {
    options = toClientOptions(profile);
  } catch (error) {
    return fail((error as Error).message);
  }
  return {
    connectionOptions: {
      ...options.connectionOptions,
      address: options.connectionOptions.address ?? TEMPORAL_DEFAULT_ADDRESS,
    },
    namespace: options.namespace ?? TEMPORAL_DEFAULT_NAMESPACE,
  };
}

const hasData = (data: ConfigDataSource | undefined) => data !== undefined;

function readable(path: string, fail: (reason: string) => never): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (error) {
    fail((error as NodeJS.ErrnoException).code ?? String(error));
  }
}
