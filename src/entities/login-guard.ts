import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { updatedAt } from './timestamps.js';

/**
 * Sign-in attempts of one key (account or user, and client IP) in the current window. `lockouts`
 * counts the locks in a row, so each lock lasts twice as long as the one before.
 */
export const LoginGuard = defineEntity({
  name: 'LoginGuard',
  tableName: 'login_guards',
  properties: {
    key: p.string().length(200).primary(),
    attempts: p.integer(),
    windowEndsAt: p.datetime().index(),
    lockouts: p.integer().default(0),
    updatedAt: updatedAt(),
  },
});
export type ILoginGuard = InferEntity<typeof LoginGuard>;
