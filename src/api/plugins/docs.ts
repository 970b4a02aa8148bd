import type { FastifyInstance } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';

const REDOC_PAGE = (specUrl: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>Crypto purchase API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="${specUrl}"></redoc>
<script src="https://cdn.redoc.ly/redoc/latest/bundles/redoc.standalone.js"></script></body></html>`;

/** OpenAPI 3 generated from the routes' zod schemas; Swagger UI, ReDoc and the raw document. */
export async function registerDocs(app: FastifyInstance, prefix: string): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Crypto purchase API',
        version: '1.0.0',
        description:
          'Buy cryptocurrency with the US dollars in your wallet. Money is exchanged as decimal strings; inputs accept a JSON number or a decimal string.',
      },
      servers: [{ url: '/' }],
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: `${prefix}/swagger` });
  app.get(`${prefix}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());
  app.get(`${prefix}/redoc`, { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/html').send(REDOC_PAGE(`${prefix}/openapi.json`)),
  );
}
