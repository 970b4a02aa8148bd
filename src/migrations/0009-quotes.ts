import { Migration } from '@mikro-orm/migrations';

/**
 * Quotes: the price and quantity shown to a user for a purchase, valid until `expires_at`, and the
 * one order that used it. Kept after use or expiry, so support can see what a user was shown.
 */
export class Migration0009Quotes extends Migration {
  override up(): void {
    this.addSql(`
create table "quotes" (
  "id" uuid primary key,
  "seq" bigserial not null constraint "quotes_seq_unique" unique,
  "user_id" int not null references "users" ("id"),
  "crypto_id" int not null references "crypto_currencies" ("id"),
  "amount" numeric(28,8) not null constraint "quotes_amount_check" check ("amount" > 0),
  "price" numeric(20,2) not null constraint "quotes_price_check" check ("price" > 0),
  "total_price" numeric(20,2) not null constraint "quotes_total_price_check" check ("total_price" > 0),
  "requested_total" numeric(20,2) null,
  "created_at" timestamptz not null default now(),
  "expires_at" timestamptz not null,
  "used_by_order_id" bigint null constraint "quotes_used_by_order_id_unique" unique references "orders" ("id"),
  constraint "quotes_check" check ("expires_at" > "created_at")
);
create index "quotes_user_id_index" on "quotes" ("user_id", "seq");
`);
  }

  override down(): void {
    this.addSql('drop table if exists "quotes";');
  }
}
