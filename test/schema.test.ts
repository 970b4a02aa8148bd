import { migratedScratchDatabase, schemaDifferences } from '../scripts/schema-diff.js';

let db: Awaited<ReturnType<typeof migratedScratchDatabase>>;
beforeAll(async () => {
  db = await migratedScratchDatabase(process.env.TEST_PG_ADMIN_URL!);
});
afterAll(async () => db?.drop());

describe('entities and migrations', () => {
  it('describe the same schema', async () => {
    expect(await schemaDifferences(db.orm)).toEqual([]);
  });

  it('reports a column the migrations changed and the entities did not', async () => {
    const em = db.orm.em.fork();
    await em.execute('alter table "wallets" alter column "balance" type numeric(20,4)');
    await em.execute('alter table "orders" alter column "failure_reason" set not null');
    await em.execute('drop index "orders_held_index"');
    const differences = await schemaDifferences(db.orm);
    expect(differences).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/alter table "wallets" alter column "balance" type numeric\(20,\s*2\)/),
        expect.stringMatching(/alter table "orders" alter column "failure_reason" drop not null/),
        expect.stringMatching(/create index "orders_held_index" on "orders" \("id"\) where/),
      ]),
    );
  });
});
