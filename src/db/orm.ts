import { MikroORM, defineConfig } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { entities } from '../entities/index.js';
import { migrations } from '../migrations/index.js';
import { PostgresNamingStrategy } from './naming.js';
import { preparingClient } from './prepared-statements.js';

export interface OrmOptions {
  databaseUrl: string;
  poolSize?: number;
  debug?: boolean;
  /** Run data statements as named prepared statements (src/db/prepared-statements.ts). */
  preparedStatements?: boolean;
}

export function ormConfig({
  databaseUrl,
  poolSize = 10,
  debug = false,
  preparedStatements = true,
}: OrmOptions) {
  return defineConfig({
    clientUrl: databaseUrl,
    // pg-pool's `Client` option: the class each pooled connection is made with.
    ...(preparedStatements ? { driverOptions: { Client: preparingClient() } } : {}),
    entities,
    namingStrategy: PostgresNamingStrategy,
    extensions: [Migrator],
    pool: { min: 0, max: poolSize },
    debug,
    // Decimal columns stay strings end to end; money is parsed by src/domain/money.ts only.
    forceUtcTimezone: true,
    migrations: {
      migrationsList: migrations,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
  });
}

export async function openOrm(options: OrmOptions): Promise<MikroORM> {
  return MikroORM.init(ormConfig(options));
}

export async function migrate(orm: MikroORM): Promise<string[]> {
  const applied = await orm.migrator.up();
  return applied.map((m) => m.name);
}
