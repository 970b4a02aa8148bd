import argon2 from 'argon2';
import type { EntityManager } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { conflict, unauthorized } from '../domain/errors.js';
import type { UserRole } from '../entities/user.js';
import { verifyLoginCode } from './totp.js';

// argon2id with the library defaults (64 MiB, t=3, p=4), above OWASP's minimum (19 MiB, t=2, p=1).
const HASH_OPTIONS = { type: argon2.argon2id } as const;

/** Compared against when the username does not exist, so both paths cost one argon2 verify. */
let dummyHash: Promise<string> | undefined;

export interface AccountView {
  id: number;
  username: string;
  role: UserRole;
}

export const hashPassword = (password: string) => argon2.hash(password, HASH_OPTIONS);

/** Creates the user and an empty wallet atomically. */
export async function register(
  em: EntityManager,
  username: string,
  password: string,
  role: UserRole = 'user',
): Promise<AccountView> {
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
    { id: number; password_hash: string; role: UserRole; totp_enabled: boolean }[]
  >('select id, password_hash, role, totp_enabled from users where username = ?', [username]);
  dummyHash ??= hashPassword('not-a-real-password');
  const ok = await argon2.verify(user?.password_hash ?? (await dummyHash), password);
  if (!user || !ok) throw unauthorized('invalid username or password', 'invalid_credentials');
  if (user.totp_enabled) {
    if (otp === undefined) throw unauthorized('a one-time code is required', 'otp_required');
    if (!(await verifyLoginCode(em, user.id, otp))) {
      throw unauthorized('the one-time code is wrong, expired or already used', 'invalid_otp');
    }
  }
  return { id: user.id, username, role: user.role };
}

export async function findAccount(em: EntityManager, userId: number): Promise<AccountView | undefined> {
  const [user] = await em.execute<AccountView[]>('select id, username, role from users where id = ?', [
    userId,
  ]);
  return user;
}
