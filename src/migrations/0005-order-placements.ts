import { Migration } from '@mikro-orm/migrations';

/**
 * Orders whose id is reserved but which have no order row: `placing` (the API answered 202
 * before the debit committed) or `rejected` (the debit refused it; no money moved).
 */
export class Migration0005OrderPlacements extends Migration {
  override up(): void {
    this.addSql(`
create table "order_placements" (
  "order_id" bigint primary key,
  "user_id" int not null references "users" ("id"),
  "crypto" varchar(10) not null,
  "amount" numeric(28, 8) not null,
  "state" varchar(16) not null check ("state" in ('placing', 'rejected')),
  "error_status" int null,
  "error_code" varchar(64) null,
  "reason" varchar(255) null,
  "created_at" timestamptz not null default now(),
  "updated_at" timestamptz not null default now()
);
create index "order_placements_user_id_index" on "order_placements" ("user_id", "order_id");
`);
  }

  override down(): void {
    this.addSql('drop table if exists "order_placements";');
  }
}
