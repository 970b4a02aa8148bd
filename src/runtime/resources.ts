import { Client, type Connection, type ClientPlugin } from '@temporalio/client';
import { connectClient } from '../temporal/connection.js';
import type { MikroORM } from '@mikro-orm/postgresql';
import { openOrm } from '../db/orm.js';
import type { Env } from '../config/env.js';
import {
  resolveTemporalConnection,
  type TemporalConnectionSettings,
  type TemporalEnv,
} from '../config/temporal.js';

export function requireDatabaseUrl(env: Env): string {
  if (!env.DATABASE_URL)
    throw new Error('DATABASE_URL is required (make dev starts an embedded Postgres and sets it)');
  return env.DATABASE_URL;
}

export const openDatabase = (env: Env): Promise<MikroORM> =>
  openOrm({
    databaseUrl: requireDatabaseUrl(env),
    poolSize: env.DATABASE_POOL_SIZE,
    preparedStatements: env.DATABASE_PREPARED_STATEMENTS,
  });

/**
 * gRPC backs off reconnecting to a server that went away, up to two minutes by default; while it
 * waits every call fails at once. Reconnecting at least every second lets orders and `/readyz`
 * see a restarted Temporal within a second or two.
 */
export const temporalChannelArgs = {
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 1_000,
};

/**
 * The client connection, opened with the settings Temporal's conventions give (config/temporal.ts):
 * the dev server by default, a TLS or mTLS cluster, or Temporal Cloud with an API key. The settings
 * are returned too, so the worker opens its native connection with the same ones.
 */
export async function connectTemporal(
  env: TemporalEnv,
  plugins: ClientPlugin[] = [],
): Promise<{ connection: Connection; client: Client; settings: TemporalConnectionSettings }> {
  const settings = resolveTemporalConnection(env);
  const connection = await connectClient({
    ...settings.connectionOptions,
    channelArgs: temporalChannelArgs,
  });
  return {
    connection,
    client: new Client({ connection, namespace: settings.namespace, plugins }),
    settings,
  };
}
