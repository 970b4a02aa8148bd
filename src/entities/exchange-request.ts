import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { createdAt } from './timestamps.js';

/** A client order id that was (or was about to be) sent to the exchange, and when first. */
export const ExchangeRequest = defineEntity({
  name: 'ExchangeRequest',
  tableName: 'exchange_requests',
  properties: {
    clientOrderId: p.string().length(64).primary(),
    firstSentAt: createdAt(),
  },
});
export type IExchangeRequest = InferEntity<typeof ExchangeRequest>;
