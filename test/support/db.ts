import { randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { openOrm } from '../../src/db/orm.js';
import { adminQuery, withDatabase } from '../../tools/postgres-admin.js';

export interface TestDatabase {
  url: string;
  orm: MikroORM;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file, cloned from the run's template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env.TEST_PG_ADMIN_URL;
  const template = process.env.TEST_PG_TEMPLATE;
  if (!adminUrl || !template) throw new Error('test/support/global-setup.ts did not run');
  const name = `cp_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(adminUrl, `create database ${name} template ${template}`);
  const url = withDatabase(adminUrl, name);
  const orm = await openOrm({ databaseUrl: url, poolSize: 20 });
  // Order ids name workflows (order-<id>) in a Temporal namespace that test files share one after
  // another, so each database starts its ids in a range of its own.
  const offset = BigInt(randomBytes(4).readUInt32BE()) * 1_000_000n + 1n;
  await orm.em.fork().execute(`alter sequence orders_id_seq restart with ${offset}`);
  return {
    url,
    orm,
    async drop() {
      await orm.close();
      await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
    },
  };
}
