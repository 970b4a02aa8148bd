import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyJwt from '@fastify/jwt';
import { forbidden, unauthorized } from '../../domain/errors.js';
import type { UserRole } from '../../entities/user.js';
import type { Env } from '../../config/env.js';

export interface AccessClaims {
  sub: string;
  role: UserRole;
  typ: 'access';
}

export interface RefreshClaims {
  sub: string;
  typ: 'refresh';
  jti: string;
  fam: string;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessClaims | RefreshClaims;
    user: { id: number; role: UserRole };
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  }
}

export const ALGORITHM = 'HS256';

/** JWT with the algorithm, issuer and audience pinned on both signing and verification. */
export async function registerAuth(app: FastifyInstance, env: Env): Promise<void> {
  await app.register(fastifyJwt, {
    secret: env.JWT_SECRET,
    sign: { algorithm: ALGORITHM, iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE },
    verify: { algorithms: [ALGORITHM], allowedIss: env.JWT_ISSUER, allowedAud: env.JWT_AUDIENCE },
  });

  app.decorate('authenticate', async (request: FastifyRequest) => {
    let claims: AccessClaims | RefreshClaims;
    try {
      claims = await request.jwtVerify<AccessClaims | RefreshClaims>();
    } catch {
      throw unauthorized('a valid access token is required', 'invalid_token');
    }
    // A refresh token is not an access token, even though both are signed with the same key.
    if (claims.typ !== 'access') throw unauthorized('a valid access token is required', 'invalid_token');
    request.user = { id: Number(claims.sub), role: claims.role };
  });

  app.decorate('requireAdmin', async (request: FastifyRequest, reply: FastifyReply) => {
    await app.authenticate(request, reply);
    if (request.user.role !== 'admin') throw forbidden('admin role required');
  });
}
