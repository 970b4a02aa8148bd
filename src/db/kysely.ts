import type { EntityManager, InferKyselyDB } from '@mikro-orm/postgresql';
import type { entities } from '../entities/index.js';

/** The database as Kysely sees it, typed from the entities (tables and columns by their SQL names). */
export type Database = InferKyselyDB<(typeof entities)[number]>;

/** Typed queries on `em`'s connection, inside its transaction when there is one. */
export const sqlOf = (em: EntityManager) => em.getKysely<Database>({ convertValues: true });
