import { sql } from 'kysely';

/** How an order reached its final state: bought alone, in a pool's batch, or never released from review. */
export type SettledRoute = 'alone' | 'pooled' | 'review';

/**
 * An order that a transaction moved to its final state, returned only by the call that moved it
 * (a retry that finds the order already settled returns nothing), so the caller counts it once.
 */
export interface SettledOrder {
  state: 'completed' | 'failed' | 'cancelled';
  route: SettledRoute;
  /** From the order's creation to this transaction, both by Postgres' clock. */
  seconds: number;
}

/** The route an unsettled order is on, from the state it is leaving. */
export const routeOfState = (state: string): SettledRoute =>
  state === 'held' ? 'review' : state === 'aggregated' ? 'pooled' : 'alone';

/** The order's age at this transaction's time; float8 so that pg hands it over as a number. */
export const secondsSinceCreated = sql<number>`extract(epoch from (now() - created_at))::float8`;
