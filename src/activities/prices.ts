import { updatePrices } from '../services/cryptos.js';
import type { ActivityDeps } from './index.js';

export function createPriceActivities({ orm, exchange }: ActivityDeps) {
  return {
    /** Copies the exchange's current prices onto the cryptos we list. Returns how many changed. */
    async refreshPrices(): Promise<number> {
      return updatePrices(orm.em.fork(), await exchange.prices());
    },
  };
}
