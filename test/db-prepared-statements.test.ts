import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { sqlOf } from '../src/db/kysely.js';
import { openOrm } from '../src/db/orm.js';
import { StatementNames } from '../src/db/prepared-statements.js';
import { seed } from '../src/services/seed.js';
import { ADMIN } from './support/api.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

describe('StatementNames', () => {
  it('names each data statement once and leaves transaction control unnamed', () => {
    const names = new StatementNames();
    const select = 'select "id" from "users" where "id" = $1';
    const first = names.nameOf(select);
    expect(first).toMatch(/^s\d+$/);
    expect(names.nameOf(select)).toBe(first);
    expect(names.nameOf('with e as (select 1) select * from e')).not.toBe(first);
    for (const text of ['begin', 'commit', 'rollback', 'savepoint "trx1"', "set names 'utf8';"])
      expect(names.nameOf(text)).toBeUndefined();
  });

  it('stops naming new texts at its cap and keeps the names it gave', () => {
    const names = new StatementNames(2);
    const a = names.nameOf('select 1');
    const b = names.nameOf('select 2');
    expect(names.nameOf('select 3')).toBeUndefined();
    expect([names.nameOf('select 1'), names.nameOf('select 2')]).toEqual([a, b]);
    expect(names.size).toBe(2);
  });
});

describe('the pool prepares data statements on Postgres', () => {
  let db: TestDatabase;
  let unprepared: MikroORM;
  beforeAll(async () => {
    db = await createTestDatabase();
    await seed(db.orm.em.fork(), ADMIN); // lists ABAN, BTC and ETH
    unprepared = await openOrm({ databaseUrl: db.url, poolSize: 1, preparedStatements: false });
  });
  afterAll(async () => {
    await unprepared?.close();
    await db?.drop();
  });

  /** Runs one parameterized lookup twice on one connection; returns its results and what the connection prepared. */
  const lookTwice = (em: EntityManager) =>
    em.transactional(async (tx) => {
      const find = (name: string) =>
        sqlOf(tx).selectFrom('crypto_currencies').select('name').where('name', '=', name).executeTakeFirst();
      const found = [await find('BTC'), await find('no-such-crypto')];
      const { rows } = await sql<{ statement: string }>`
        select statement from pg_prepared_statements where statement like '%crypto_currencies%'`.execute(
        sqlOf(tx),
      );
      return { found, prepared: rows.map((r) => r.statement) };
    });

  it('prepares a statement once per connection and answers as an unnamed one does', async () => {
    const prepared = await lookTwice(db.orm.em.fork());
    const plain = await lookTwice(unprepared.em.fork());
    expect(prepared.found).toEqual(plain.found);
    expect(prepared.found[0]).toEqual({ name: 'BTC' });
    expect(prepared.found[1]).toBeUndefined();
    // The lookup, once (both runs used the one name); the query of pg_prepared_statements itself too.
    expect(prepared.prepared.filter((s) => s.includes('"name" = $1'))).toHaveLength(1);
    expect(plain.prepared).toEqual([]);
  });

  it('sends a statement without parameters unprepared, so that several can go at once', async () => {
    const em = db.orm.em.fork();
    await expect(em.execute('select 1 as one; select 2 as two')).resolves.toBeDefined();
    const rows = await em.transactional(async (tx) => {
      await tx.execute('select 3 as three from crypto_currencies limit 1');
      return tx.execute(`select statement from pg_prepared_statements where statement like '%three%'`);
    });
    expect(rows).toEqual([]);
  });

  it('prepares a statement afresh once a migration changed the type of a column it reads', async () => {
    const one = await openOrm({ databaseUrl: db.url, poolSize: 1 }); // one connection: the same session throughout
    try {
      const em = one.em.fork();
      await em.execute(
        'create table stale_plan_probe (id int primary key, v int); insert into stale_plan_probe values (1, 5)',
      );
      const read = () =>
        sql<{ v: unknown }>`select v from stale_plan_probe where id = ${1}`.execute(sqlOf(em));
      expect((await read()).rows).toEqual([{ v: 5 }]);
      await em.execute('alter table stale_plan_probe alter column v type text');
      // Postgres refuses the statement prepared before the change, once; the next run prepares it again.
      await expect(read()).rejects.toThrow(/cached plan must not change result type/);
      expect((await read()).rows).toEqual([{ v: '5' }]);
      expect((await read()).rows).toEqual([{ v: '5' }]);
    } finally {
      await one.close();
    }
  });
});
