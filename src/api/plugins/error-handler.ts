import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { DomainError, type ErrorKind } from '../../domain/errors.js';

/** The one place a domain error becomes an HTTP status: by its kind (the code says which one). */
const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  refused: 422,
  rate_limited: 429,
  unavailable: 503,
};

export const errorStatus = (error: DomainError): number => STATUS[error.kind];

interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

const body = (code: string, message: string, details?: unknown): ErrorBody => ({
  error: details === undefined ? { code, message } : { code, message, details },
});

/** A request with thousands of bad fields gets a short answer: the first few, then a count. */
const MAX_LISTED = 10;
const MAX_MESSAGE = 200;

const listSome = (items: unknown[]) => {
  const shown = items.slice(0, MAX_LISTED).map((k) => JSON.stringify(String(k).slice(0, 64)));
  const more = items.length > MAX_LISTED ? ` and ${items.length - MAX_LISTED} more` : '';
  return `${shown.join(', ')}${more}`;
};

function issueMessage(keyword: string, message: string, params: Record<string, unknown>): string {
  if (keyword === 'unrecognized_keys' && Array.isArray(params.keys)) {
    return `unknown field${params.keys.length > 1 ? 's' : ''}: ${listSome(params.keys)}`;
  }
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message;
}

/** The one error handler: every failure leaves as `{error: {code, message, details?}}`. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof DomainError) {
      return reply.status(errorStatus(error)).send(body(error.code, error.message, error.details));
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const issues = error.validation;
      const details = issues.slice(0, MAX_LISTED).map((v) => ({
        field: [error.validationContext, ...v.instancePath.split('/').filter(Boolean)].join('.'),
        message: issueMessage(v.keyword, v.message ?? 'invalid', v.params),
      }));
      if (issues.length > MAX_LISTED)
        details.push({
          field: error.validationContext ?? 'body',
          message: `and ${issues.length - MAX_LISTED} more`,
        });
      const summary = details.map((d) => `${d.field}: ${d.message}`).join('; ');
      return reply.status(400).send(body('validation_error', summary, details));
    }
    const status = error.statusCode ?? 500;
    if (status === 429) {
      return reply.status(429).send(body('rate_limited', error.message));
    }
    if (status >= 400 && status < 500) {
      // Fastify's own client errors: malformed JSON, wrong content type, body too large, ...
      return reply.status(status).send(body(error.code?.toLowerCase() ?? 'bad_request', error.message));
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send(body('internal_error', 'something went wrong on our side'));
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(body('not_found', `no route for ${request.method} ${request.url.split('?')[0]}`)),
  );
}
