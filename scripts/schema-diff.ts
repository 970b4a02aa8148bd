import { randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { migrate, openOrm } from '../src/db/orm.js';
import { adminQuery, withDatabase } from '../tools/postgres-admin.js';

/** The append-only tables, each guarded by a trigger `<table>_append_only` (see src/migrations). */
const APPEND_ONLY_TABLES = ['transactions', 'exchange_purchases', 'house_entries'];

/**
 * What the entities cannot say, so the schema generator always reports it; each is allowed by exact
 * statement. The append-only triggers: entities can declare a trigger, but MikroORM names its
 * function `<table>_<trigger>_fn` and compares the body, so it never matches the migration's (one
 * function shared by every append-only table).
 */
export const ALLOWED_DIFFERENCES: readonly string[] = APPEND_ONLY_TABLES.flatMap((table) => [
  `drop trigger if exists "${table}_append_only" on "${table}"`,
  `drop function if exists "${table}_${table}_append_only_fn"()`,
]);

/**
 * What the schema generator would change to make the database match the entities, one statement
 * each, less the allowed differences; empty when the entities describe the database exactly.
 */
export async function schemaDifferences(orm: MikroORM): Promise<string[]> {
  const sql = await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: true });
  return sql
    .split(/;\s*\n/)
    .map((statement) => statement.trim().replace(/;$/, ''))
    .filter((statement) => statement !== '' && !ALLOWED_DIFFERENCES.includes(statement));
}

/** A scratch database on the server of `serverUrl`, migrated from src/migrations; dropped by `drop`. */
export async function migratedScratchDatabase(serverUrl: string) {
  const adminUrl = withDatabase(serverUrl, 'postgres');
  const name = `schema_check_${randomBytes(6).toString('hex')}`;
  await adminQuery(adminUrl, `create database ${name}`);
  const orm = await openOrm({ databaseUrl: withDatabase(serverUrl, name), poolSize: 2 });
  try {
    await migrate(orm);
  } catch (error) {
    await orm.close();
    await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
    throw error;
  }
  return {
    orm,
    async drop() {
      await orm.close();
      await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
    },
  };
}
