import { User } from './user.js';
import { Wallet } from './wallet.js';
import { CryptoCurrency } from './crypto-currency.js';
import { LedgerEntry } from './ledger-entry.js';
import { RefreshToken } from './refresh-token.js';
import { Order } from './order.js';
import { Batch } from './batch.js';
import { IdempotencyKey } from './idempotency-key.js';
import { AdminAction } from './admin-action.js';
import { LoginGuard } from './login-guard.js';
import { OrderPlacement } from './order-placement.js';
import { ExchangePurchase } from './exchange-purchase.js';
import { HouseEntry } from './house-entry.js';
import { OrderEvent } from './order-event.js';
import { Quote } from './quote.js';
import { ExchangeRequest } from './exchange-request.js';

export * from './user.js';
export * from './wallet.js';
export * from './crypto-currency.js';
export * from './ledger-entry.js';
export * from './refresh-token.js';
export * from './order.js';
export * from './batch.js';
export * from './idempotency-key.js';
export * from './admin-action.js';
export * from './login-guard.js';
export * from './order-placement.js';
export * from './exchange-purchase.js';
export * from './house-entry.js';
export * from './order-event.js';
export * from './quote.js';
export * from './exchange-request.js';

export const entities = [
  User,
  Wallet,
  CryptoCurrency,
  LedgerEntry,
  RefreshToken,
  Order,
  Batch,
  IdempotencyKey,
  AdminAction,
  LoginGuard,
  OrderPlacement,
  ExchangePurchase,
  HouseEntry,
  OrderEvent,
  Quote,
  ExchangeRequest,
];
