import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { redactUrl } from './redact-url.js';

/**
 * One line per request, written when it is answered: method, url, status and response time (ms),
 * with the request id that Fastify's child logger adds as `reqId`. Fastify's own "incoming request"
 * line is dropped, since the answer's line says everything it did and the two no longer have to
 * be paired by id. Secrets in the query string (an `access_token`) are redacted.
 */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) return;
    const line = {
      method: request.method,
      url: redactUrl(request.url),
      status: reply.statusCode,
      responseTime: Math.round(reply.elapsedTime * 100) / 100,
    };
    // request.log, not reply.log: a route that learns what the request is about (an order) binds it there.
    if (error) request.log.error({ ...line, err: error }, 'request errored');
    else request.log.info(line, 'request completed');
  }
}
