/**
 * An error the client caused or a business rule refused. The API maps it to its status and the
 * JSON error shape; anything else is a 500.
 */
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
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

export const badRequest = (code: string, message: string, details?: unknown) =>
  new AppError(400, code, message, details);
export const unauthorized = (message = 'authentication required', code = 'unauthorized') =>
  new AppError(401, code, message);
export const forbidden = (message = 'not allowed') => new AppError(403, 'forbidden', message);
export const notFound = (what = 'resource') => new AppError(404, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string) => new AppError(409, code, message);
export const unprocessable = (code: string, message: string, details?: unknown) =>
  new AppError(422, code, message, details);

/** The user behind a request or an order no longer exists (deleted after the token was issued). */
export const accountNotFound = () => new AppError(401, 'account_not_found', 'the account no longer exists');
/** Someone who is not an admin tried to decide on a held order. */
export const reviewerNotAdmin = () =>
  new AppError(403, 'reviewer_not_admin', 'only an admin can review a held order');

export const insufficientFunds = () => unprocessable('insufficient_funds', 'the wallet balance is too low');
