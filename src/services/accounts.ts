import argon2, { type HashOptions } from 'argon2';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { badRequest, conflict, unauthorized } from '../domain/errors.js';
import { passwordProblem, type PasswordHashCost } from '../domain/password-policy.js';
import type { UserRole } from '../entities/user.js';
import { verifyLoginCode } from './totp.js';
import { sqlOf } from '../db/kysely.js';

// argon2id; the library defaults (64 MiB, t=3, p=4) until the process sets its configured cost.
let hashOptions: HashOptions = { type: argon2.argon2id };

/** Compared against when the username does not exist, so both paths cost one argon2 verify. */
let dummyHash: Promise<string> | undefined;
const dummy = () => (dummyHash ??= hashPassword('not-a-real-password'));

/**
 * The cost of hashes made from now on, for the whole process. Existing hashes keep verifying:
 * each one carries the parameters it was made with.
 */
export function setPasswordHashCost(cost: PasswordHashCost): void {
  hashOptions = { type: argon2.argon2id, ...cost };
  // The unknown-user path must cost what a real user's verify costs.
  dummyHash = undefined;
}

export interface AccountView {
  id: number;
  username: string;
  role: UserRole;
}

export const hashPassword = (password: string) => argon2.hash(password, hashOptions);

/** 400 `weak_password` unless `password` passes the password policy for `username`. */
export function assertStrongPassword(password: string, username: string): void {
  const problem = passwordProblem(password, username);
  if (problem) throw badRequest('weak_password', problem);
}

/**
 * Creates the user and an empty wallet atomically. Usernames are unique regardless of case
 * (`Alice` and `alice` are one account); the spelling given here is the one displayed.
 */
export async function register(
  em: EntityManager,
  username: string,
  password: string,
  role: UserRole = 'user',
): Promise<AccountView> {
  assertStrongPassword(password, username);
  const passwordHash = await hashPassword(password);
  const id = await createAccount(em, { username, passwordHash, role });
  if (id === undefined) throw conflict('username_taken', 'that username is already registered');
  return { id, username, role };
}

/**
 * Inserts the user and their empty wallet in one transaction; undefined (and nothing written) when
 * the username is taken, whatever its case.
 */
export async function createAccount(
  em: EntityManager,
  user: { username: string; passwordHash: string; role: UserRole },
): Promise<number | undefined> {
  return em.transactional(async (tx) => {
    const db = sqlOf(tx);
    const created = await db
      .insertInto('users')
      .values({ username: user.username, password_hash: user.passwordHash, role: user.role })
      .onConflict((oc) => oc.expression(sql`lower(username)`).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!created) return undefined;
    await db.insertInto('wallets').values({ user_id: created.id }).execute();
    return created.id;
  });
}

/**
 * Password check, then the TOTP second factor when the user has enabled it. A wrong password answers
 * the same for unknown and known users; `otp_required`/`invalid_otp` only come after a right password.
 */
export async function verifyCredentials(
  em: EntityManager,
  username: string,
  password: string,
  otp?: string,
): Promise<AccountView> {
  const user = await sqlOf(em)
    .selectFrom('users')
    .select(['id', 'username', 'password_hash', 'role', 'totp_enabled'])
    .where(sql`lower(username)`, '=', sql`lower(${username})`)
    .executeTakeFirst();
  const ok = await argon2.verify(user?.password_hash ?? (await dummy()), password);
  if (!user || !ok) throw unauthorized('invalid username or password', 'invalid_credentials');
  if (user.totp_enabled) {
    if (otp === undefined) throw unauthorized('a one-time code is required', 'otp_required');
    if (!(await verifyLoginCode(em, user.id, otp))) {
      throw unauthorized('the one-time code is wrong, expired or already used', 'invalid_otp');
    }
  }
  return { id: user.id, username: user.username, role: user.role };
}

/** Whether `password` is the user's current password (false for a user that does not exist). */
export async function checkPassword(em: EntityManager, userId: number, password: string): Promise<boolean> {
  const user = await sqlOf(em)
    .selectFrom('users')
    .select('password_hash')
    .where('id', '=', userId)
    .executeTakeFirst();
  const ok = await argon2.verify(user?.password_hash ?? (await dummy()), password);
  return ok && user !== undefined;
}

export async function findAccount(em: EntityManager, userId: number): Promise<AccountView | undefined> {
  return sqlOf(em)
    .selectFrom('users')
    .select(['id', 'username', 'role'])
    .where('id', '=', userId)
    .executeTakeFirst();
}

/** The user's current role; undefined once the account is gone. */
export async function roleOf(em: EntityManager, userId: number): Promise<UserRole | undefined> {
  const user = await sqlOf(em).selectFrom('users').select('role').where('id', '=', userId).executeTakeFirst();
  return user?.role;
}
