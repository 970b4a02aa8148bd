import argon2 from 'argon2';
import type { EntityManager } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { badRequest, conflict, unauthorized } from '../domain/errors.js';
import { passwordProblem } from '../domain/password-policy.js';
import type { UserRole } from '../entities/user.js';
import { verifyLoginCode } from './totp.js';

// argon2id with the library defaults (64 MiB, t=3, p=4), above OWASP's minimum (19 MiB, t=2, p=1).
const HASH_OPTIONS = { type: argon2.argon2id } as const;

/** Compared against when the username does not exist, so both paths cost one argon2 verify. */
let dummyHash: Promise<string> | undefined;
const dummy = () => (dummyHash ??= hashPassword('not-a-real-password'));

export interface AccountView {
  id: number;
  username: string;
  role: UserRole;
}

export const hashPassword = (password: string) => argon2.hash(password, HASH_OPTIONS);

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
  try {
    return await em.transactional(async (tx) => {
      const [user] = await tx.execute<{ id: number }[]>(
        'insert into users (username, password_hash, role) values (?, ?, ?) returning id',
        [username, passwordHash, role],
      );
      await tx.execute('insert into wallets (user_id) values (?)', [user!.id]);
      return { id: user!.id, username, role };
    });
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) {
      throw conflict('username_taken', 'that username is already registered');
    }
    throw error;
  }
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
  const [user] = await em.execute<
    { id: number; username: string; password_hash: string; role: UserRole; totp_enabled: boolean }[]
  >('select id, username, password_hash, role, totp_enabled from users where lower(username) = lower(?)', [
    username,
  ]);
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
  const [user] = await em.execute<{ password_hash: string }[]>(
    'select password_hash from users where id = ?',
    [userId],
  );
  const ok = await argon2.verify(user?.password_hash ?? (await dummy()), password);
  return ok && user !== undefined;
}

export async function findAccount(em: EntityManager, userId: number): Promise<AccountView | undefined> {
  const [user] = await em.execute<AccountView[]>('select id, username, role from users where id = ?', [
    userId,
  ]);
  return user;
}
