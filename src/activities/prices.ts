import { listedCryptoNames, updatePrices } from '../services/cryptos.js';
import type { ActivityDeps } from './index.js';

export function createPriceActivities({ orm, exchange }: ActivityDeps) {
  return {
    /**
     * Copies the exchange's current prices and minimum notionals onto the cryptos we list.
     * Returns how many prices changed.
     */
    async refreshPrices(): Promise<number> {
      const markets = await exchange.markets(await listedCryptoNames(orm.em.fork()));
      return updatePrices(orm.em.fork(), markets);
    },
  };
}
