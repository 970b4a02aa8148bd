import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { confirmTotp, disableTotp, enrollTotp } from '../../services/totp.js';
import { errorSchema } from '../schemas.js';

/** A 6-digit TOTP code from an authenticator app. */
export const otpCode = z
  .string()
  .regex(/^\d{6}$/, 'six digits')
  .meta({ description: '6-digit code from the authenticator app', example: '123456' });

const codeBody = z.strictObject({ code: otpCode });
const enrollment = z.object({
  secret: z.string().meta({ description: 'Base32 secret, for entering by hand' }),
  otpauth_url: z.string().meta({ description: 'otpauth:// URI, for a QR code' }),
});
const totpState = z.object({ totp_enabled: z.boolean() });

export async function totpRoutes(app: FastifyInstance) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['accounts'];
  const security = [{ bearerAuth: [] }];

  r.post(
    '/accounts/totp/enroll/',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Start TOTP enrolment: a new secret, enforced only once confirmed',
        response: { 200: enrollment, 401: errorSchema, 409: errorSchema },
      },
    },
    async (request, reply) => {
      const result = await enrollTotp(request.em, request.user.id);
      // The secret must not linger in any cache on the way.
      return reply.header('cache-control', 'no-store').send(result);
    },
  );

  r.post(
    '/accounts/totp/confirm/',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Enable TOTP with a code from the newly enrolled authenticator',
        body: codeBody,
        response: { 200: totpState, 400: errorSchema, 401: errorSchema, 409: errorSchema },
      },
    },
    async (request) => {
      await confirmTotp(request.em, request.user.id, request.body.code);
      return { totp_enabled: true };
    },
  );

  r.post(
    '/accounts/totp/disable/',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Disable TOTP with a current code; the secret is deleted',
        body: codeBody,
        response: { 200: totpState, 400: errorSchema, 401: errorSchema, 409: errorSchema },
      },
    },
    async (request) => {
      await disableTotp(request.em, request.user.id, request.body.code);
      return { totp_enabled: false };
    },
  );
}
