import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { badRequest } from '../domain/errors.js';

export const idempotencyHeaders = z.object({
  'idempotency-key': z.string().optional().meta({
    description:
      'Optional client key (1-255 printable characters); a retry with the same key and body replays the first response',
  }),
});

/** The Idempotency-Key header, validated; undefined when the client sent none. */
export function idempotencyKey(request: FastifyRequest): string | undefined {
  const value = request.headers['idempotency-key'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(value)) {
    throw badRequest('invalid_idempotency_key', 'Idempotency-Key must be 1-255 printable ASCII characters');
  }
  return value;
}
