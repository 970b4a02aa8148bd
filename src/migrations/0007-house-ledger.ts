import { Migration } from '@mikro-orm/migrations';

/**
 * Every exchange purchase as the exchange filled it, and the house account that absorbs what the
 * fill differs from what the users were quoted; both append-only under the ledger's trigger, whose
 * message now names the table. Each crypto's market minimum, which the pooling threshold never goes
 * below. The placements' `error_status`, never written, is dropped.
 */
export class Migration0007HouseLedger extends Migration {
  override up(): void {
    this.addSql(`
create or replace function "transactions_append_only"() returns trigger language plpgsql as $$
begin
  raise exception '% is append-only', TG_TABLE_NAME;
end $$;

alter table "crypto_currencies"
  add column "min_notional" numeric(20,2) not null default 0
    constraint "crypto_currencies_min_notional_check" check ("min_notional" >= 0);

create table "exchange_purchases" (
  "client_order_id" varchar(64) primary key,
  "seq" bigserial not null constraint "exchange_purchases_seq_unique" unique,
  "order_id" bigint null constraint "exchange_purchases_order_id_unique" unique references "orders" ("id"),
  "batch_id" varchar(64) null constraint "exchange_purchases_batch_id_unique" unique references "batches" ("id"),
  "crypto_id" int not null references "crypto_currencies" ("id"),
  "symbol" varchar(32) not null,
  "exchange_order_id" varchar(64) not null,
  "quote_asked" numeric(20,2) not null,
  "quote_spent" numeric(28,8) not null,
  "quantity" numeric(28,8) not null,
  "average_price" numeric(28,8) not null,
  "commission" numeric(28,8) not null,
  "commission_asset" varchar(16) not null,
  "created_at" timestamptz not null default now(),
  constraint "exchange_purchases_subject_check" check (("order_id" is null) <> ("batch_id" is null))
);
create trigger "exchange_purchases_append_only" before update or delete on "exchange_purchases"
  for each row execute function "transactions_append_only"();

create table "house_entries" (
  "id" bigserial primary key,
  "purchase_id" varchar(64) not null references "exchange_purchases" ("client_order_id"),
  "kind" text not null constraint "house_entries_kind_check"
    check ("kind" in ('top_up', 'unspent_quote', 'fee', 'crypto_difference')),
  "asset" varchar(16) not null,
  "amount" numeric(28,8) not null,
  "quantity" numeric(28,8) null,
  "created_at" timestamptz not null default now(),
  constraint "house_entries_purchase_id_kind_unique" unique ("purchase_id", "kind")
);
create trigger "house_entries_append_only" before update or delete on "house_entries"
  for each row execute function "transactions_append_only"();

alter table "order_placements" drop column "error_status";
`);
  }

  override down(): void {
    this.addSql(`
alter table "order_placements" add column "error_status" int null;
drop table if exists "house_entries", "exchange_purchases";
alter table "crypto_currencies" drop column "min_notional";
create or replace function "transactions_append_only"() returns trigger language plpgsql as $$
begin
  raise exception 'transactions is append-only';
end $$;
`);
  }
}
