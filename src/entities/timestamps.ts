import { p } from '@mikro-orm/core';

/** Set by the database on insert (`now()`), and by MikroORM when it inserts the entity itself. */
export const createdAt = () =>
  p
    .datetime()
    .defaultRaw('now()')
    .onCreate(() => new Date());

/** Like `createdAt`, and moved on by every update. */
export const updatedAt = () =>
  p
    .datetime()
    .defaultRaw('now()')
    .onCreate(() => new Date())
    .onUpdate(() => new Date());
