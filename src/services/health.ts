import type { EntityManager } from '@mikro-orm/postgresql';

/** Resolves once Postgres answers a query. */
export async function pingDatabase(em: EntityManager): Promise<void> {
  await em.getConnection().execute('select 1');
}
