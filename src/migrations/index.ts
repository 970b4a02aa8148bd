import { Migration0001Initial } from './0001-initial.js';
import { Migration0002Security } from './0002-security.js';
import { Migration0004PriceSource } from './0004-price-source.js';
import { Migration0005OrderPlacements } from './0005-order-placements.js';

/** Listed explicitly so migrations run the same under tsx, compiled JS and jest. */
export const migrations = [
  { name: '0001-initial', class: Migration0001Initial },
  { name: '0002-security', class: Migration0002Security },
  { name: '0004-price-source', class: Migration0004PriceSource },
  { name: '0005-order-placements', class: Migration0005OrderPlacements },
];
