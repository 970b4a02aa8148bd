import { Migration } from '@mikro-orm/migrations';

/** Orders can be cancelled while they wait (in a pool or in review): a final, refunded state. */
export class Migration0010CancelledOrders extends Migration {
  override up(): void {
    this.addSql(`
alter table "orders" drop constraint "orders_state_check";
alter table "orders" add constraint "orders_state_check"
  check ("state" in ('pending', 'aggregated', 'held', 'completed', 'failed', 'cancelled'));
`);
  }

  override down(): void {
    // A cancelled order was refunded and bought nothing: down, it reads as failed.
    this.addSql(`
update "orders" set "state" = 'failed' where "state" = 'cancelled';
alter table "orders" drop constraint "orders_state_check";
alter table "orders" add constraint "orders_state_check"
  check ("state" in ('pending', 'aggregated', 'held', 'completed', 'failed'));
`);
  }
}
