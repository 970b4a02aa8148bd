import type { EntityManager } from '@mikro-orm/postgresql';
import { generateSecret, generateURI, verify } from 'otplib';
import { badRequest, conflict, unauthorized } from '../domain/errors.js';
import { sqlOf } from '../db/kysely.js';

/** Shown by authenticator apps next to the username. */
export const TOTP_ISSUER = 'Crypto Purchase';
/** RFC 6238 defaults, which every authenticator app uses: SHA-1, 6 digits, 30 s steps. */
export const TOTP_PERIOD_SECONDS = 30;
/** Clock drift tolerated between the server and the user's device, in steps either side. */
const DRIFT_STEPS = 1;
const CODE_PATTERN = /^\d{6}$/;

export interface TotpEnrollment {
  /** Base32, to type into an authenticator app by hand. */
  secret: string;
  /** otpauth:// URI, to render as a QR code. */
  otpauth_url: string;
}

const invalidOtp = () => badRequest('invalid_otp', 'the one-time code is wrong, expired or already used');

const readTotp = (em: EntityManager, userId: number) =>
  sqlOf(em)
    .selectFrom('users')
    .select(['username', 'totp_secret', 'totp_enabled', 'totp_last_step'])
    .where('id', '=', userId)
    .executeTakeFirst();

type Totp = NonNullable<Awaited<ReturnType<typeof readTotp>>>;

async function loadTotp(em: EntityManager, userId: number): Promise<Totp> {
  const row = await readTotp(em, userId);
  if (!row) throw unauthorized('a valid access token is required', 'invalid_token');
  return row;
}

/**
 * The time step `code` belongs to, if it is right for `secret`, within the drift window and later
 * than `lastStep`. Does not consume it: the caller's conditional update does.
 */
async function matchingStep(
  secret: string,
  code: string,
  lastStep: string | number | null,
): Promise<number | undefined> {
  if (!CODE_PATTERN.test(code)) return undefined;
  const epoch = Math.floor(Date.now() / 1000);
  const newest = Math.floor(epoch / TOTP_PERIOD_SECONDS) + DRIFT_STEPS;
  const last = lastStep === null ? undefined : Number(lastStep);
  // Every step in the window is already used (otplib also refuses an afterTimeStep beyond the window).
  if (last !== undefined && last >= newest) return undefined;
  const result = await verify({
    secret,
    token: code,
    epoch,
    period: TOTP_PERIOD_SECONDS,
    epochTolerance: DRIFT_STEPS * TOTP_PERIOD_SECONDS,
    afterTimeStep: last,
  });
  return result.valid && 'timeStep' in result ? result.timeStep : undefined;
}

/**
 * Consumes `code` for `user` if it is right and newer than the last one used, applying `change` in
 * the same conditional update: the secret must still be the one the code was checked against (no
 * re-enrolment in between), and of two requests racing with one code only one moves the step on.
 * totp_last_step only ever grows, so a code seen before can never come back.
 */
async function consumeCode(
  em: EntityManager,
  userId: number,
  user: Totp,
  secret: string,
  code: string,
  change: { totp_enabled?: boolean; totp_secret?: null } = {},
): Promise<boolean> {
  const step = await matchingStep(secret, code, user.totp_last_step);
  if (step === undefined) return false;
  const result = await sqlOf(em)
    .updateTable('users')
    .set({ ...change, totp_last_step: step })
    .where('id', '=', userId)
    .where('totp_enabled', '=', user.totp_enabled)
    .where('totp_secret', '=', secret)
    .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/**
 * Starts enrolment: a fresh secret, stored but not yet enforced until `confirmTotp`.
 * Enrolling again before confirming replaces the pending secret.
 */
export async function enrollTotp(em: EntityManager, userId: number): Promise<TotpEnrollment> {
  const secret = generateSecret();
  const row = await sqlOf(em)
    .updateTable('users')
    .set({ totp_secret: secret })
    .where('id', '=', userId)
    .where('totp_enabled', '=', false)
    .returning('username')
    .executeTakeFirst();
  if (!row) {
    await loadTotp(em, userId); // 401 if the user is gone, else it is enabled:
    throw conflict('totp_already_enabled', 'two-factor authentication is already enabled');
  }
  return { secret, otpauth_url: generateURI({ issuer: TOTP_ISSUER, label: row.username, secret }) };
}

/** Turns TOTP on once the user proves their app holds the pending secret; the code is consumed. */
export async function confirmTotp(em: EntityManager, userId: number, code: string): Promise<void> {
  const user = await loadTotp(em, userId);
  if (user.totp_enabled)
    throw conflict('totp_already_enabled', 'two-factor authentication is already enabled');
  if (!user.totp_secret) throw conflict('totp_not_enrolled', 'enroll before confirming');
  if (!(await consumeCode(em, userId, user, user.totp_secret, code, { totp_enabled: true }))) {
    throw invalidOtp();
  }
}

/** Turns TOTP off and forgets the secret; needs a valid code, which is consumed. */
export async function disableTotp(em: EntityManager, userId: number, code: string): Promise<void> {
  const user = await loadTotp(em, userId);
  if (!user.totp_enabled || !user.totp_secret) {
    throw conflict('totp_not_enabled', 'two-factor authentication is not enabled');
  }
  const change = { totp_enabled: false, totp_secret: null };
  if (!(await consumeCode(em, userId, user, user.totp_secret, code, change))) {
    throw invalidOtp();
  }
}

/**
 * Checks a login code for a user with TOTP enabled and consumes it: true at most once per code,
 * false when it is wrong, outside the drift window, already used, or TOTP is not enabled.
 */
export async function verifyLoginCode(em: EntityManager, userId: number, code: string): Promise<boolean> {
  const user = await readTotp(em, userId);
  if (!user?.totp_enabled || !user.totp_secret) return false;
  return consumeCode(em, userId, user, user.totp_secret, code);
}
