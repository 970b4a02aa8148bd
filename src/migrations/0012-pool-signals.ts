import { Migration } from '@mikro-orm/migrations';

/**
 * Whether a pooled order's workflow waits for the pool's signal when its batch settles it. An order
 * whose debit's activity watches for the settlement itself (src/activities/settlements.ts) is placed
 * with false and set true only if it stops watching while the order still waits; every order placed
 * before this column existed waits for the signal.
 */
export class Migration0012PoolSignals extends Migration {
  override up(): void {
    this.addSql('alter table "orders" add column "pool_signals" boolean not null default true;');
  }

  override down(): void {
    this.addSql('alter table "orders" drop column if exists "pool_signals";');
  }
}
