import { Migration } from '@mikro-orm/migrations';

/** TOTP second factor, fraud decisions on orders, and the audit log of admin actions. */
export class Migration0002Security extends Migration {
  override up(): void {
    this.addSql(`
alter table "users"
  add column "totp_secret" varchar(64) null,
  add column "totp_enabled" boolean not null default false,
  add column "totp_last_step" bigint null;

alter table "orders"
  add column "fraud_rule" varchar(64) null,
  add column "fraud_reason" varchar(255) null,
  add column "reviewed_by" int null references "users" ("id"),
  add column "reviewed_at" timestamptz null;
create index "orders_held_index" on "orders" ("id") where "state" = 'held';

create table "admin_actions" (
  "id" bigserial primary key,
  "admin_id" int not null references "users" ("id"),
  "action" varchar(64) not null,
  "subject" varchar(128) not null,
  "details" jsonb not null default '{}',
  "created_at" timestamptz not null default now()
);
create index "admin_actions_created_at_index" on "admin_actions" ("created_at");
`);
  }

  override down(): void {
    this.addSql(`
drop table if exists "admin_actions";
drop index if exists "orders_held_index";
alter table "orders" drop column "fraud_rule", drop column "fraud_reason", drop column "reviewed_by", drop column "reviewed_at";
alter table "users" drop column "totp_secret", drop column "totp_enabled", drop column "totp_last_step";
`);
  }
}
