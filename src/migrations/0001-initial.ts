import { Migration } from '@mikro-orm/migrations';

export class Migration0001Initial extends Migration {
  override up(): void {
    this.addSql(`
create table "users" (
  "id" serial primary key,
  "username" varchar(64) not null constraint "users_username_unique" unique,
  "password_hash" varchar(255) not null,
  "role" text not null default 'user' constraint "users_role_check" check ("role" in ('user', 'admin')),
  "created_at" timestamptz not null default now()
);

create table "wallets" (
  "id" serial primary key,
  "user_id" int not null constraint "wallets_user_id_unique" unique references "users" ("id"),
  "balance" numeric(20,2) not null default 0 constraint "wallets_balance_non_negative" check ("balance" >= 0),
  "created_at" timestamptz not null default now(),
  "updated_at" timestamptz not null default now()
);

create table "crypto_currencies" (
  "id" serial primary key,
  "name" varchar(10) not null constraint "crypto_currencies_name_unique" unique,
  "price" numeric(20,2) not null constraint "crypto_currencies_price_positive" check ("price" > 0),
  "active" boolean not null default true,
  "updated_at" timestamptz not null default now()
);

create table "batches" (
  "id" varchar(64) primary key,
  "crypto_id" int not null references "crypto_currencies" ("id"),
  "orders_total" numeric(20,2) not null check ("orders_total" >= 0),
  "house_top_up" numeric(20,2) not null default 0 check ("house_top_up" >= 0),
  "notional" numeric(20,2) not null check ("notional" = "orders_total" + "house_top_up"),
  "order_count" int not null,
  "state" text not null default 'open' constraint "batches_state_check" check ("state" in ('open', 'completed', 'failed')),
  "exchange_order_id" varchar(64) null,
  "filled_quantity" numeric(28,8) null,
  "created_at" timestamptz not null default now(),
  "updated_at" timestamptz not null default now()
);

create table "orders" (
  "id" bigserial primary key,
  "user_id" int not null references "users" ("id"),
  "crypto_id" int not null references "crypto_currencies" ("id"),
  "amount" numeric(28,8) not null check ("amount" > 0),
  "price" numeric(20,2) not null check ("price" > 0),
  "total_price" numeric(20,2) not null check ("total_price" > 0),
  "state" text not null default 'pending' constraint "orders_state_check" check ("state" in ('pending', 'aggregated', 'held', 'completed', 'failed')),
  "batch_id" varchar(64) null references "batches" ("id"),
  "exchange_order_id" varchar(64) null,
  "failure_reason" varchar(255) null,
  "created_at" timestamptz not null default now(),
  "updated_at" timestamptz not null default now()
);
create index "orders_user_id_id_index" on "orders" ("user_id", "id");
create index "orders_batch_id_index" on "orders" ("batch_id");
create index "orders_state_index" on "orders" ("state") where "state" in ('pending', 'aggregated', 'held');

create table "transactions" (
  "id" bigserial primary key,
  "wallet_id" int not null references "wallets" ("id"),
  "type" text not null constraint "transactions_type_check" check ("type" in ('deposit', 'withdrawal', 'refund')),
  "amount" numeric(20,2) not null constraint "transactions_amount_positive" check ("amount" > 0),
  "order_id" bigint null references "orders" ("id"),
  "created_at" timestamptz not null default now()
);
create index "transactions_wallet_id_id_index" on "transactions" ("wallet_id", "id");
-- An order is debited at most once and refunded at most once, whatever retries happen.
create unique index "transactions_order_id_type_unique" on "transactions" ("order_id", "type") where "order_id" is not null;

-- The ledger is append-only.
create function "transactions_append_only"() returns trigger language plpgsql as $$
begin
  raise exception 'transactions is append-only';
end $$;
create trigger "transactions_append_only" before update or delete on "transactions"
  for each row execute function "transactions_append_only"();

create table "refresh_tokens" (
  "id" uuid primary key,
  "user_id" int not null references "users" ("id"),
  "family_id" uuid not null,
  "expires_at" timestamptz not null,
  "used_at" timestamptz null,
  "revoked_at" timestamptz null,
  "created_at" timestamptz not null default now()
);
create index "refresh_tokens_user_id_index" on "refresh_tokens" ("user_id");
create index "refresh_tokens_family_id_index" on "refresh_tokens" ("family_id");

create table "idempotency_keys" (
  "user_id" int not null references "users" ("id"),
  "scope" varchar(32) not null,
  "key" varchar(255) not null,
  "request_hash" varchar(64) not null,
  "order_id" bigint null,
  "response_status" int null,
  "response_body" jsonb null,
  "created_at" timestamptz not null default now(),
  primary key ("user_id", "scope", "key")
);
create index "idempotency_keys_created_at_index" on "idempotency_keys" ("created_at");
`);
  }

  override down(): void {
    this.addSql(`
drop table if exists "idempotency_keys", "refresh_tokens", "transactions", "orders", "batches",
  "crypto_currencies", "wallets", "users" cascade;
drop function if exists "transactions_append_only"();
`);
  }
}
