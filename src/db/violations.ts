import { ForeignKeyConstraintViolationException, UniqueConstraintViolationException } from '@mikro-orm/core';

/** A row refers to one that is not there (23503), whether MikroORM or Kysely ran the statement. */
export const isForeignKeyViolation = (error: unknown): boolean =>
  error instanceof ForeignKeyConstraintViolationException ||
  (error as { code?: unknown } | null)?.code === '23503';

/** A unique constraint refused the row (23505), whether MikroORM or Kysely ran the statement. */
export const isUniqueViolation = (error: unknown): boolean =>
  error instanceof UniqueConstraintViolationException ||
  (error as { code?: unknown } | null)?.code === '23505';
