import { Migration } from '@mikro-orm/migrations';

/** Every change of an order, kept for the event stream's replay (services/order-events.ts). */
export class Migration0008OrderEvents extends Migration {
  override up(): void {
    this.addSql(`
create table "order_events" (
  "id" bigserial primary key,
  "user_id" int not null references "users" ("id") on delete cascade,
  "order_id" bigint not null,
  "payload" jsonb not null,
  "created_at" timestamptz not null default now()
);
create index "order_events_user_id_index" on "order_events" ("user_id", "id");
create index "order_events_created_at_index" on "order_events" ("created_at");
`);
  }

  override down(): void {
    this.addSql('drop table if exists "order_events";');
  }
}
