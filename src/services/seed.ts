import type { EntityManager } from '@mikro-orm/postgresql';
import { hashPassword } from './accounts.js';
import { deposit } from './wallet.js';

export const SEED_CRYPTOS = [
  { name: 'ABAN', price: '4.00' },
  { name: 'BTC', price: '50000.00' },
  { name: 'ETH', price: '3000.00' },
];

/**
 * Idempotent dev seed: the three cryptos and an admin with 1000.00 (credited once, through the ledger).
 * The admin password is not held to the password policy here: the configuration already refuses a
 * weak or published one outside development, and the development default must keep working.
 */
export async function seed(em: EntityManager, admin: { username: string; password: string }): Promise<void> {
  for (const c of SEED_CRYPTOS) {
    await em.execute(
      'insert into crypto_currencies (name, price) values (?, ?) on conflict (name) do nothing',
      [c.name, c.price],
    );
  }
  const passwordHash = await hashPassword(admin.password);
  const created = await em.transactional(async (tx) => {
    const [user] = await tx.execute<{ id: number }[]>(
      `insert into users (username, password_hash, role) values (?, ?, 'admin')
       on conflict ((lower(username))) do nothing returning id`,
      [admin.username, passwordHash],
    );
    if (!user) return undefined;
    await tx.execute('insert into wallets (user_id) values (?)', [user.id]);
    return user.id;
  });
  if (created !== undefined) await deposit(em, created, 100_000n);
}
