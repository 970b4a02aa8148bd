import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { createdAt } from './timestamps.js';

export const USER_ROLES = ['user', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const User = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p.integer().primary().autoincrement(),
    /** Unique regardless of case (see `uniques`); stored as the user spelled it, for display. */
    username: p.string().length(64),
    passwordHash: p.string().length(255).hidden(),
    role: p.enum(USER_ROLES).default('user'),
    totpSecret: p.string().length(64).nullable().hidden(),
    totpEnabled: p.boolean().default(false),
    /** The last TOTP time step accepted, so a code works once. */
    totpLastStep: p.bigint('number').nullable(),
    createdAt: createdAt(),
  },
  uniques: [
    {
      name: 'users_username_lower_unique',
      expression: (columns, table, name) =>
        `create unique index "${name}" on "${table.name}" (lower("${columns.username}"))`,
    },
  ],
});
export type IUser = InferEntity<typeof User>;
