import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';

declare module 'fastify' {
  interface FastifyRequest {
    /** An EntityManager fork of its own for this request. */
    em: EntityManager;
  }
}

/** Gives every request its own identity map, so no request sees another's loaded entities. */
async function entityManager(app: FastifyInstance, { orm }: { orm: MikroORM }): Promise<void> {
  app.decorateRequest('em', null as unknown as EntityManager);
  app.addHook('onRequest', async (request) => {
    request.em = orm.em.fork();
  });
}

export default fp(entityManager, { name: 'entity-manager', fastify: '5.x' });
