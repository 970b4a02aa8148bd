import type { EntityManager } from '@mikro-orm/postgresql';
import { createAccount, hashPassword } from './accounts.js';
import { deposit } from './wallet.js';
import { sqlOf } from '../db/kysely.js';

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
    await sqlOf(em)
      .insertInto('crypto_currencies')
      .values({ name: c.name, price: c.price })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }
  const passwordHash = await hashPassword(admin.password);
  const created = await createAccount(em, { username: admin.username, passwordHash, role: 'admin' });
  if (created !== undefined) await deposit(em, created, 100_000n);
}
