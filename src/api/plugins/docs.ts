import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';

const TITLE = 'Crypto purchase API';

/**
 * What the docs pages may load: their own scripts, styles and the spec, nothing from elsewhere.
 * Both UIs style elements from script ('unsafe-inline' for styles only); ReDoc runs its search
 * index in a worker built from a blob: URL; images are the logos and icons inlined as data: URIs.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
].join('; ');

/** The one remote resource in the ReDoc bundle: the "API docs by Redocly" logo in the menu. */
const REDOC_REMOTE_LOGO = 'https://cdn.redoc.ly/redoc/logo-mini.svg';
const EMPTY_IMAGE = "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'/>";

/** The pinned ReDoc bundle from node_modules, served by us: no CDN, works offline. */
function redocBundle() {
  const require = createRequire(import.meta.url);
  const { version } = require('redoc/package.json') as { version: string };
  const original = readFileSync(require.resolve('redoc/bundles/redoc.standalone.js'), 'utf8');
  // Offline and under the CSP the logo would be a failed request; should a new version load
  // anything else from afar, the browser test names it.
  const source = original.replaceAll(REDOC_REMOTE_LOGO, EMPTY_IMAGE);
  const integrity = `sha384-${createHash('sha384').update(source).digest('base64')}`;
  return { version, source, integrity };
}

const redocPage = (specUrl: string, scriptUrl: string, integrity: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${TITLE}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"></head>
<body><redoc spec-url="${specUrl}"></redoc>
<script src="${scriptUrl}" integrity="${integrity}"></script></body></html>`;

/** OpenAPI 3 generated from the routes' zod schemas; Swagger UI, ReDoc and the raw document. */
async function docs(app: FastifyInstance, { prefix }: { prefix: string }): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: TITLE,
        version: '1.0.0',
        description:
          'Buy cryptocurrency with the US dollars in your wallet. Money is exchanged as decimal strings; inputs accept a JSON number or a decimal string.',
      },
      servers: [{ url: '/' }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          // Only where a route says so (the order event stream, for browsers' EventSource).
          accessTokenQuery: {
            type: 'apiKey',
            in: 'query',
            name: 'access_token',
            description: 'The access token as a query parameter, on the routes that accept it; never logged',
          },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: `${prefix}/swagger`, staticCSP: DOCS_CSP });
  app.get(`${prefix}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());

  const redoc = redocBundle();
  // The version is in the path, so the bundle can be cached for good.
  const scriptUrl = `${prefix}/redoc/redoc-${redoc.version}.standalone.js`;
  const page = redocPage(`${prefix}/openapi.json`, scriptUrl, redoc.integrity);
  app.get(`${prefix}/redoc`, { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', DOCS_CSP).send(page),
  );
  app.get(scriptUrl, { schema: { hide: true } }, async (_request, reply) =>
    reply
      .type('application/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=31536000, immutable')
      .send(redoc.source),
  );
}

// At the root, so the spec sees every route registered after it.
export default fp(docs, { name: 'docs', fastify: '5.x' });
