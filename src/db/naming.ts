import { UnderscoreNamingStrategy } from '@mikro-orm/core';

/**
 * MikroORM's naming, except that foreign keys keep the names Postgres gives them (`<table>_<column>_fkey`),
 * which the hand-written migrations rely on.
 */
export class PostgresNamingStrategy extends UnderscoreNamingStrategy {
  override indexName(
    tableName: string,
    columns: string[],
    type: 'primary' | 'foreign' | 'unique' | 'index' | 'sequence' | 'check' | 'default' | 'trigger',
  ): string {
    if (type === 'foreign') return super.indexName(tableName, columns, type).replace(/_foreign$/, '_fkey');
    return super.indexName(tableName, columns, type);
  }
}
