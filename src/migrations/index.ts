import { Migration0001Initial } from './0001-initial.js';
import { Migration0002Security } from './0002-security.js';
import { Migration0003UsernamesAndLockout } from './0003-usernames-and-lockout.js';
import { Migration0006ReviewAudit } from './0006-review-audit.js';
import { Migration0004PriceSource } from './0004-price-source.js';
import { Migration0005OrderPlacements } from './0005-order-placements.js';
import { Migration0007HouseLedger } from './0007-house-ledger.js';
import { Migration0008OrderEvents } from './0008-order-events.js';
import { Migration0009Quotes } from './0009-quotes.js';
import { Migration0011ExchangeRequests } from './0011-exchange-requests.js';
import { Migration0010CancelledOrders } from './0010-cancelled-orders.js';
import { Migration0012PoolSignals } from './0012-pool-signals.js';

/** Listed explicitly so migrations run the same under tsx, compiled JS and jest. */
export const migrations = [
  { name: '0001-initial', class: Migration0001Initial },
  { name: '0002-security', class: Migration0002Security },
  { name: '0003-usernames-and-lockout', class: Migration0003UsernamesAndLockout },
  { name: '0006-review-audit', class: Migration0006ReviewAudit },
  { name: '0004-price-source', class: Migration0004PriceSource },
  { name: '0005-order-placements', class: Migration0005OrderPlacements },
  { name: '0007-house-ledger', class: Migration0007HouseLedger },
  { name: '0008-order-events', class: Migration0008OrderEvents },
  { name: '0009-quotes', class: Migration0009Quotes },
  { name: '0011-exchange-requests', class: Migration0011ExchangeRequests },
  { name: '0010-cancelled-orders', class: Migration0010CancelledOrders },
  { name: '0012-pool-signals', class: Migration0012PoolSignals },
];
