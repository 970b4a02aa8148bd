import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { badRequest } from '../domain/errors.js';

/**
 * A JSON number from a request body, kept as its exact source text ("12.50", "1e3") so money never
 * passes through a binary float and exponent notation can be refused instead of coerced. Being
 * neither a string nor a number, it passes only the schemas that accept it on purpose (amounts):
 * `{"username": 123}` fails a string field instead of turning into "123".
 */
export class JsonNumber {
  constructor(readonly source: string) {}
}
// Validation messages name a value's type by its constructor: "expected string, received number".
Object.defineProperty(JsonNumber, 'name', { value: 'number' });

function reviveNumbers(_key: string, value: unknown, context?: { source?: string }): unknown {
  return typeof value === 'number' && context?.source !== undefined ? new JsonNumber(context.source) : value;
}

/** Keys that would alter an object's prototype once merged into another object. */
const FORBIDDEN_KEYS = new Set(['__proto__']);

/**
 * Finds the first key that appears twice in one object (JSON.parse silently keeps the last, so
 * `{"amount":"1","amount":"999"}` would mean 999), or a forbidden key. `text` is valid JSON.
 */
export function findBadKey(text: string): { key: string; reason: 'duplicate' | 'forbidden' } | undefined {
  const objects: (Set<string> | undefined)[] = []; // undefined for an array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string; // decodes escapes: "\u0061" is "a"
        const keys = objects.at(-1)!;
        if (FORBIDDEN_KEYS.has(key)) return { key, reason: 'forbidden' };
        if (keys.has(key)) return { key, reason: 'duplicate' };
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === '{') {
      objects.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      objects.push(undefined);
    } else if (c === '}' || c === ']') {
      objects.pop();
    } else if (c === ',') {
      expectKey = objects.at(-1) !== undefined;
    }
  }
  return undefined;
}

const quoted = (key: string) => JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);

/** JSON bodies with exact numbers, refusing duplicate and prototype-altering keys (see above). */
async function jsonBody(app: FastifyInstance): Promise<void> {
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text, reviveNumbers as never);
    } catch {
      return done(badRequest('invalid_json', 'the request body is not valid JSON'));
    }
    const bad = findBadKey(text);
    if (bad?.reason === 'duplicate')
      return done(badRequest('duplicate_key', `the key ${quoted(bad.key)} appears more than once`));
    if (bad) return done(badRequest('forbidden_key', `the key ${quoted(bad.key)} is not allowed`));
    done(null, parsed);
  });
}

export default fp(jsonBody, { name: 'json-body', fastify: '5.x' });
