import pg from 'pg';

/**
 * Data statements, the ones worth preparing. Transaction control and session settings (`begin`,
 * `commit`, `savepoint`, `set names`) are sent as they come.
 */
const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;

/**
 * Distinct statement texts given a name, at most. The service sends a few dozen; texts that vary with
 * their input (a multi-row insert of n rows) add one per n. Past the cap, new texts go unnamed: each
 * named statement costs every connection that runs it a plan in its backend's memory.
 */
export const PREPARED_STATEMENTS_CAP = 500;

/** One name per text, the same on every connection (names are per connection on the server). */
export class StatementNames {
  private readonly names = new Map<string, string>();

  constructor(private readonly cap = PREPARED_STATEMENTS_CAP) {}

  /** The name to prepare `text` under, or undefined to send it unnamed. */
  nameOf(text: string): string | undefined {
    // Known texts first: the lookup is all a statement run before costs.
    const known = this.names.get(text);
    if (known !== undefined || this.names.size >= this.cap || !PREPARABLE.test(text)) return known;
    const name = `s${this.names.size + 1}`;
    this.names.set(text, name);
    return name;
  }

  get size(): number {
    return this.names.size;
  }
}

/**
 * Postgres refuses to run a prepared statement whose result columns changed type since it was
 * prepared (a migration altered a column it reads); the statement stays refused on that connection.
 */
const stalePlan = (error: unknown) =>
  (error as { code?: unknown }).code === '0A000' &&
  /cached plan must not change result type/.test(String((error as Error).message));

/**
 * A `pg` client that runs each parameterized data statement as a named prepared statement: Postgres
 * parses and plans it once per connection instead of on every execution (a $12 order's 19 statements
 * cost Postgres about 30 % less CPU, bench/README.md). Given to the pool as its `Client` (pg-pool's
 * option), so Kysely and MikroORM, which send text and values, use it unchanged. A statement refused
 * for a stale plan fails once, and is prepared afresh under another name on its next run on that
 * connection, so a migration that changes a column's type does not leave running processes failing.
 * Not for a pooler in transaction mode that does not track prepared statements (PgBouncer before
 * 1.21, or without `max_prepared_statements`): `DATABASE_PREPARED_STATEMENTS=false` turns it off.
 */
export function preparingClient(names = new StatementNames()): typeof pg.Client {
  const send = pg.Client.prototype.query as (this: pg.Client, ...args: unknown[]) => unknown;
  class PreparingClient extends pg.Client {
    /** This connection's new names for statements whose plan went stale. */
    renamed?: Map<string, string>;
  }
  PreparingClient.prototype.query = function (this: PreparingClient, ...args: unknown[]) {
    const [text, values, callback] = args;
    // Without parameters pg sends the simple protocol, which also takes several statements at once
    // (a prepared statement cannot hold more than one): those go as they come. So do callbacks,
    // which Kysely and MikroORM do not use.
    const parameterized = typeof text === 'string' && Array.isArray(values) && values.length > 0;
    const shared = parameterized && callback === undefined ? names.nameOf(text) : undefined;
    if (shared === undefined) return send.apply(this, args);
    const name = this.renamed?.get(shared) ?? shared;
    return (send.call(this, { name, text, values }) as Promise<unknown>).catch((error: unknown) => {
      if (stalePlan(error)) (this.renamed ??= new Map()).set(shared, `${name}r`);
      throw error;
    });
  } as pg.Client['query'];
  return PreparingClient;
}
