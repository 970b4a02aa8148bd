import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import fastifyJwt from '@fastify/jwt';
import { forbidden, unauthorized } from '../../domain/errors.js';
import type { UserRole } from '../../entities/user.js';
import { roleOf } from '../../services/accounts.js';
import type { Env } from '../../config/env.js';

export interface AccessClaims {
  sub: string;
  role: UserRole;
  typ: 'access';
  /** The refresh-token family (the session) the token was issued to. */
  fam?: string;
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
    user: { id: number; role: UserRole; family?: string };
  }
}

/** Who may call a route: any signed-in user, or admins only. */
export type RouteAuth = 'user' | 'admin';

declare module 'fastify' {
  interface FastifyInstance {
    authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  }
  interface FastifyContextConfig {
    /** Set on every route that needs an access token; `request.user` is then known from onRequest on. */
    auth?: RouteAuth;
    /**
     * The access token may also come as the `access_token` query parameter (browsers' EventSource
     * cannot set headers); the header wins when both are given. The request log redacts it.
     */
    tokenInQuery?: boolean;
  }
}

export const ALGORITHM = 'HS256';
/** Every token we issue carries these; a token without one of them was not made by us. */
export const REQUIRED_CLAIMS = ['exp', 'iss', 'aud', 'sub', 'typ'];

const MAX_USER_ID = 2 ** 31 - 1;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The user id in `sub`: plain decimal digits naming a positive int4, else undefined. */
export function subjectId(sub: unknown): number | undefined {
  if (typeof sub !== 'string' || !/^[1-9][0-9]{0,9}$/.test(sub)) return undefined;
  const id = Number(sub);
  return id <= MAX_USER_ID ? id : undefined;
}

/** The `access_token` query parameter, when there is no Authorization header to take the token from. */
function tokenFromQuery(request: FastifyRequest): string | undefined {
  if (request.headers.authorization !== undefined) return undefined;
  const token = (request.query as Record<string, unknown> | undefined)?.access_token;
  return typeof token === 'string' && token !== '' ? token : undefined;
}

export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/**
 * JWT with the algorithm, issuer and audience pinned on both signing and verification, and every
 * claim we issue required. An access token is accepted only while its user exists; the role comes
 * from the database, so a changed role applies at once. A route asks for a token with
 * `config: { auth: 'user' }` or `config: { auth: 'admin' }`.
 */
async function auth(app: FastifyInstance, { env }: { env: Env }): Promise<void> {
  await app.register(fastifyJwt, {
    secret: env.JWT_SECRET,
    sign: { algorithm: ALGORITHM, iss: env.JWT_ISSUER, aud: env.JWT_AUDIENCE },
    verify: {
      algorithms: [ALGORITHM],
      allowedIss: env.JWT_ISSUER,
      allowedAud: env.JWT_AUDIENCE,
      requiredClaims: REQUIRED_CLAIMS,
    },
  });

  app.decorate('authenticate', async (request: FastifyRequest) => {
    let claims: AccessClaims | RefreshClaims;
    try {
      const queryToken = request.routeOptions.config.tokenInQuery ? tokenFromQuery(request) : undefined;
      // The plugin's other verify options (algorithm, issuer, audience, claims) still apply.
      const fromQuery = { extractToken: () => queryToken } as Parameters<typeof request.jwtVerify>[0];
      claims = await request.jwtVerify<AccessClaims | RefreshClaims>(
        queryToken === undefined ? undefined : fromQuery,
      );
    } catch {
      throw unauthorized('a valid access token is required', 'invalid_token');
    }
    // A refresh token is not an access token, even though both are signed with the same key.
    if (claims.typ !== 'access') throw unauthorized('a valid access token is required', 'invalid_token');
    const id = subjectId(claims.sub);
    if (id === undefined) throw unauthorized('a valid access token is required', 'invalid_token');
    // One primary-key lookup: a deleted account's tokens stop working at once.
    const role = await roleOf(request.em, id);
    if (!role) throw unauthorized('a valid access token is required', 'invalid_token');
    request.user = { id, role, family: isUuid(claims.fam) ? claims.fam : undefined };
  });

  app.decorate('requireAdmin', async (request: FastifyRequest, reply: FastifyReply) => {
    await app.authenticate(request, reply);
    if (request.user.role !== 'admin') throw forbidden('admin role required');
  });

  app.addHook('onRoute', (route) => {
    const required = route.config?.auth;
    if (!required) return;
    const check = required === 'admin' ? app.requireAdmin : app.authenticate;
    route.onRequest = [check, ...[route.onRequest ?? []].flat()];
  });
}

export default fp(auth, { name: 'auth', fastify: '5.x', dependencies: ['entity-manager'] });
