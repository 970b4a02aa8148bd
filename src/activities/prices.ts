import { listedCryptoNames, updatePrices } from '../services/cryptos.js';
import { countExchangeErrors } from './errors.js';
import type { ActivityDeps } from './index.js';

export function createPriceActivities(deps: ActivityDeps) {
  const { orm, exchange } = deps;
  return {
    /**
     * Copies the exchange's current prices and minimum notionals onto the cryptos we list.
     * Returns how many prices changed.
     */
    async refreshPrices(): Promise<number> {
      const names = await listedCryptoNames(orm.em.fork());
      const markets = await countExchangeErrors(deps, 'markets', () => exchange.markets(names));
      return updatePrices(orm.em.fork(), markets);
    },
  };
}
