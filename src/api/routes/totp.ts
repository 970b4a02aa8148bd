import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { confirmTotp, disableTotp, enrollTotp } from '../../services/totp.js';
import { checkPassword } from '../../services/accounts.js';
import { badRequest } from '../../domain/errors.js';
import { errorSchema } from '../schemas.js';
import type { TokenService } from '../auth/tokens.js';
import { reauthKey, type Attempts } from '../auth/attempts.js';

/** A 6-digit TOTP code from an authenticator app. */
export const otpCode = z
  .string()
  .regex(/^\d{6}$/, 'six digits')
  .meta({ description: '6-digit code from the authenticator app', example: '123456' });

/** A stolen access token alone must not be enough to change the second factor. */
const currentPassword = z
  .string()
  .min(1)
  .max(256)
  .meta({ description: "The user's current password", example: 'correct horse battery' });

const passwordBody = z.strictObject({ password: currentPassword });
const codeBody = z.strictObject({ password: currentPassword, code: otpCode });
const enrollment = z.object({
  secret: z.string().meta({ description: 'Base32 secret, for entering by hand' }),
  otpauth_url: z.string().meta({ description: 'otpauth:// URI, for a QR code' }),
});
const totpState = z.object({ totp_enabled: z.boolean() });

export const totpRoutes: FastifyPluginAsyncZod<{ tokens: TokenService; attempts: Attempts }> = async (
  app,
  { tokens, attempts },
) => {
  const tags = ['accounts'];
  const security = [{ bearerAuth: [] }];
  const errors = { 400: errorSchema, 401: errorSchema, 409: errorSchema, 429: errorSchema };

  const requirePassword = async (request: FastifyRequest, password: string) => {
    if (!(await checkPassword(request.em, request.user.id, password))) {
      throw badRequest('invalid_password', 'the password is wrong');
    }
  };

  app.post(
    '/accounts/totp/enroll/',
    {
      config: { auth: 'user' },
      schema: {
        tags,
        security,
        summary: 'Start TOTP enrolment: a new secret, enforced only once confirmed',
        description:
          'Needs the current password. Wrong passwords count against `RATE_LIMIT_LOGIN_FAILURES` ' +
          '(per user and client IP), then 429.',
        body: passwordBody,
        response: { 200: enrollment, ...errors },
      },
    },
    async (request, reply) => {
      const result = await attempts(request, reply, reauthKey(request.user.id, request.ip), async () => {
        await requirePassword(request, request.body.password);
        return enrollTotp(request.em, request.user.id);
      });
      // The secret must not linger in any cache on the way.
      return reply.header('cache-control', 'no-store').send(result);
    },
  );

  /** Enabling and disabling differ only in the change: both sign out the user's other sessions. */
  const change = (path: string, summary: string, apply: typeof confirmTotp, enabled: boolean) =>
    app.post(
      path,
      {
        config: { auth: 'user' },
        schema: {
          tags,
          security,
          summary,
          description:
            "Needs the current password and a code. Signs out the user's other sessions (their refresh " +
            'tokens stop working). Wrong passwords and codes count against `RATE_LIMIT_LOGIN_FAILURES`.',
          body: codeBody,
          response: { 200: totpState, ...errors },
        },
      },
      async (request, reply) => {
        const { id, family } = request.user;
        await attempts(request, reply, reauthKey(id, request.ip), async () => {
          await requirePassword(request, request.body.password);
          await request.em.transactional(async (tx) => {
            await apply(tx, id, request.body.code);
            await tokens.revokeOtherFamilies(tx, id, family);
          });
        });
        return { totp_enabled: enabled };
      },
    );
  change(
    '/accounts/totp/confirm/',
    'Enable TOTP with a code from the newly enrolled authenticator',
    confirmTotp,
    true,
  );
  change(
    '/accounts/totp/disable/',
    'Disable TOTP with a current code; the secret is deleted',
    disableTotp,
    false,
  );
};
