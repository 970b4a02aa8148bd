import type { FastifyInstance } from 'fastify';
import { badRequest } from '../domain/errors.js';

/**
 * Parses JSON bodies keeping every number as its exact source text ("12.50", "1e3"), so money
 * never passes through a binary float and exponent notation can be refused instead of coerced.
 */
function reviveNumbersAsText(_key: string, value: unknown, context?: { source?: string }): unknown {
  return typeof value === 'number' && context?.source !== undefined ? context.source : value;
}

export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text, reviveNumbersAsText as never));
    } catch {
      done(badRequest('invalid_json', 'the request body is not valid JSON'));
    }
  });
}
