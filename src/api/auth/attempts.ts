import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../../domain/errors.js';
import type { LoginGuard } from '../../services/login-guard.js';
import { tooMany } from '../plugins/rate-limit.js';

/** The errors that mean a secret (password or one-time code) was guessed wrong. */
const WRONG_SECRET = new Set(['invalid_credentials', 'invalid_otp', 'invalid_password']);

/**
 * Runs `check` (which verifies a password or a one-time code) as one counted attempt of `key`.
 * The attempt is counted before the check; it is given back unless a secret turned out wrong, so
 * only wrong guesses use up the allowance and the right password never locks anyone out.
 */
export function createAttempts(guard: LoginGuard) {
  return async function attempt<T>(
    request: FastifyRequest,
    reply: FastifyReply,
    key: string,
    check: () => Promise<T>,
  ): Promise<T> {
    const slot = await guard.reserve(request.em, key);
    if (!slot.allowed) throw tooMany(reply, slot.retryAfterSeconds);
    let result: T;
    try {
      result = await check();
    } catch (error) {
      if (!(error instanceof DomainError && WRONG_SECRET.has(error.code)))
        await guard.refund(request.em, key);
      throw error;
    }
    await guard.refund(request.em, key);
    return result;
  };
}

export type Attempts = ReturnType<typeof createAttempts>;

/** Sign-in attempts count per account and client IP: a stranger elsewhere cannot lock the user out. */
export const loginKey = (username: string, ip: string) => `login:${username.toLowerCase()}:${ip}`;
/** Password and code checks of a signed-in user (two-factor changes), per user and client IP. */
export const reauthKey = (userId: number, ip: string) => `reauth:${userId}:${ip}`;
