import { migrate } from '../src/db/orm.js';
import { migrations } from '../src/migrations/index.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

describe('0003-usernames-and-lockout', () => {
  it('refuses to run while usernames differ only in case, naming them; runs once they are renamed', async () => {
    await db.orm.migrator.down({ to: '0002-security' });
    const em = db.orm.em.fork();
    await em.execute(
      `insert into users (username, password_hash) values ('Clash', 'x'), ('clash', 'x'), ('other', 'x')`,
    );
    await expect(migrate(db.orm)).rejects.toThrow(/differ only in case.*Clash, clash/s);

    await em.execute(`update users set username = 'clash2' where username = 'clash'`);
    const after0002 = migrations.slice(migrations.findIndex((m) => m.name === '0002-security') + 1);
    expect(await migrate(db.orm)).toEqual(after0002.map((m) => m.name));
    expect(after0002[0]!.name).toBe('0003-usernames-and-lockout');
    await expect(
      em.execute(`insert into users (username, password_hash) values ('OTHER', 'x')`),
    ).rejects.toThrow(/users_username_lower_unique/);
    const [row] = await em.execute<{ n: string }[]>('select count(*) as n from login_guards');
    expect(row!.n).toBe('0');
  });
});
