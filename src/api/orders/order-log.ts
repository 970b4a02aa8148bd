import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { orderWorkflowId } from '../../workflows/definitions.js';

/**
 * The request's logger from the moment its order is known: every later line, the request's own
 * line and an unhandled error's included, carries the order id and its workflow id, the fields
 * the worker's lines about the same order carry.
 */
export function logAboutOrder(request: FastifyRequest, orderId: number): FastifyBaseLogger {
  request.log = request.log.child({ orderId, workflowId: orderWorkflowId(orderId) });
  return request.log;
}
