/**
 * What kind of failure an error is, independent of any transport: the API turns a kind into an
 * HTTP status (src/api/plugins/error-handler.ts), Temporal carries it in a failure's details
 * (src/temporal/failures.ts).
 */
const KINDS = [
  'invalid',
  'unauthenticated',
  'forbidden',
  'not_found',
  'conflict',
  'refused',
  'rate_limited',
  'unavailable',
] as const;
export type ErrorKind = (typeof KINDS)[number];

export const isErrorKind = (value: unknown): value is ErrorKind =>
  (KINDS as readonly unknown[]).includes(value);

/** Every error code a client can be answered with, and the kind it usually is. */
const ERROR_KINDS = {
  // The request itself is wrong.
  invalid_json: 'invalid',
  duplicate_key: 'invalid',
  forbidden_key: 'invalid',
  invalid_idempotency_key: 'invalid',
  weak_password: 'invalid',
  invalid_password: 'invalid',
  empty_change: 'invalid',
  unknown_crypto: 'invalid',
  total_too_small: 'invalid',
  total_too_large: 'invalid',
  // Who is asking is not established.
  unauthorized: 'unauthenticated',
  invalid_credentials: 'unauthenticated',
  otp_required: 'unauthenticated',
  invalid_otp: 'unauthenticated',
  invalid_token: 'unauthenticated',
  account_not_found: 'unauthenticated',
  // Established, but not allowed.
  forbidden: 'forbidden',
  reviewer_not_admin: 'forbidden',
  not_found: 'not_found',
  // The request contradicts the current state.
  username_taken: 'conflict',
  idempotency_key_reused: 'conflict',
  totp_already_enabled: 'conflict',
  totp_not_enrolled: 'conflict',
  totp_not_enabled: 'conflict',
  order_not_held: 'conflict',
  quote_used: 'conflict',
  order_not_cancellable: 'conflict',
  // A business rule refused it.
  wallet_not_found: 'refused',
  insufficient_funds: 'refused',
  order_rejected: 'refused',
  order_not_placed: 'refused',
  quote_expired: 'refused',
  rate_limited: 'rate_limited',
  too_many_streams: 'rate_limited',
  // A service the answer depends on cannot be reached; nothing was changed.
  temporal_unavailable: 'unavailable',
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof ERROR_KINDS;

export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.hasOwn(ERROR_KINDS, value);

/**
 * An error the client caused or a business rule refused, with its code. The API answers it with
 * its kind's status and the JSON error shape; anything else is a 500. The kind follows from the
 * code unless a caller states it (a wrong one-time code is `unauthenticated` at login but
 * `invalid` when enrolling a second factor).
 */
export class DomainError extends Error {
  readonly kind: ErrorKind;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    kind?: ErrorKind,
  ) {
    super(message);
    this.name = 'DomainError';
    this.kind = kind ?? ERROR_KINDS[code];
  }
}

/**
 * Data read back from storage (a row, a Temporal payload) that the code cannot use, such as a
 * missing or malformed amount. Retrying reads the same data again, so it is never retried.
 */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

export const badRequest = (code: ErrorCode, message: string, details?: unknown) =>
  new DomainError(code, message, details, 'invalid');
export const unauthorized = (message = 'authentication required', code: ErrorCode = 'unauthorized') =>
  new DomainError(code, message, undefined, 'unauthenticated');
export const forbidden = (message = 'not allowed') => new DomainError('forbidden', message);
export const notFound = (what = 'resource') => new DomainError('not_found', `${what} not found`);
export const conflict = (code: ErrorCode, message: string) =>
  new DomainError(code, message, undefined, 'conflict');
export const unprocessable = (code: ErrorCode, message: string, details?: unknown) =>
  new DomainError(code, message, details, 'refused');
export const rateLimited = (retryAfterSeconds: number) =>
  new DomainError('rate_limited', `too many requests; retry in ${retryAfterSeconds} s`);

/** The user behind a request or an order no longer exists (deleted after the token was issued). */
export const accountNotFound = () => new DomainError('account_not_found', 'the account no longer exists');
/** Someone who is not an admin tried to decide on a held order. */
export const reviewerNotAdmin = () =>
  new DomainError('reviewer_not_admin', 'only an admin can review a held order');

/** An Idempotency-Key comes back with a request other than the one it was first used with. */
export const idempotencyKeyReused = () =>
  conflict('idempotency_key_reused', 'this Idempotency-Key was already used with a different request');

/** The order is no longer waiting (in a batch being bought, settled, or not yet placed). */
export const orderNotCancellable = (state: string) =>
  conflict('order_not_cancellable', `the order cannot be cancelled: it is ${state}`);

export const insufficientFunds = () => unprocessable('insufficient_funds', 'the wallet balance is too low');
