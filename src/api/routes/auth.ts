import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { register, verifyCredentials } from '../../services/accounts.js';
import { credentials, errorSchema, tokenPair } from '../schemas.js';
import type { TokenService } from '../auth/tokens.js';
import { loginKey, type Attempts } from '../auth/attempts.js';
import { otpCode } from './totp.js';

const refreshBody = z.strictObject({ refresh: z.string().min(1) });
/** Users with TOTP enabled also send the current code from their authenticator app. */
const loginBody = z.strictObject({ ...credentials.shape, otp: otpCode.optional() });

export const authRoutes: FastifyPluginAsyncZod<{ tokens: TokenService; attempts: Attempts }> = async (
  app,
  { tokens, attempts },
) => {
  const tags = ['accounts'];

  app.post(
    '/accounts/auth/register/',
    {
      config: { limits: ['auth', 'register'] },
      schema: {
        tags,
        summary: 'Create an account with an empty USD wallet',
        description:
          'Usernames are unique regardless of case. The password needs 8 characters or more and must not ' +
          'be common or contain the username (400 `weak_password`); there are no composition rules.',
        body: credentials,
        response: { 201: tokenPair, 400: errorSchema, 409: errorSchema },
      },
    },
    async (request, reply) => {
      const account = await register(request.em, request.body.username, request.body.password);
      return reply.status(201).send(await tokens.issue(request.em, account));
    },
  );

  app.post(
    '/accounts/auth/login/',
    {
      config: { limits: ['auth'] },
      schema: {
        tags,
        summary: 'Exchange credentials (and the TOTP code, once enabled) for an access and a refresh token',
        description:
          'The username matches in any case. Every attempt counts against the account and client IP ' +
          'before it is checked; wrong ones use up `RATE_LIMIT_LOGIN_FAILURES`, then 429.',
        body: loginBody,
        response: { 200: tokenPair, 400: errorSchema, 401: errorSchema, 429: errorSchema },
      },
    },
    async (request, reply) => {
      const { username, password, otp } = request.body;
      const account = await attempts(request, reply, loginKey(username, request.ip), () =>
        verifyCredentials(request.em, username, password, otp),
      );
      return tokens.issue(request.em, account);
    },
  );

  app.post(
    '/accounts/auth/refresh/',
    {
      config: { limits: ['auth'] },
      schema: {
        tags,
        summary: 'Rotate a refresh token; reusing an old one revokes the whole session',
        body: refreshBody,
        response: { 200: tokenPair, 400: errorSchema, 401: errorSchema },
      },
    },
    async (request) => tokens.rotate(request.em, request.body.refresh),
  );

  app.post(
    '/accounts/auth/logout/',
    {
      config: { limits: ['auth'] },
      schema: {
        tags,
        summary: 'Revoke the session the refresh token belongs to',
        body: refreshBody,
        response: { 204: z.null(), 400: errorSchema, 401: errorSchema },
      },
    },
    async (request, reply) => {
      await tokens.logout(request.em, request.body.refresh);
      return reply.status(204).send(null);
    },
  );
};
