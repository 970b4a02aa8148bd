import { Client, Connection } from '@temporalio/client';
import type { MikroORM } from '@mikro-orm/postgresql';
import { openOrm } from '../db/orm.js';
import type { Env } from '../config/env.js';

export function requireDatabaseUrl(env: Env): string {
  if (!env.DATABASE_URL)
    throw new Error('DATABASE_URL is required (make dev starts an embedded Postgres and sets it)');
  return env.DATABASE_URL;
}

export const openDatabase = (env: Env): Promise<MikroORM> =>
  openOrm({ databaseUrl: requireDatabaseUrl(env), poolSize: env.DATABASE_POOL_SIZE });

export async function connectTemporal(env: Env): Promise<{ connection: Connection; client: Client }> {
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  return { connection, client: new Client({ connection, namespace: env.TEMPORAL_NAMESPACE }) };
}
