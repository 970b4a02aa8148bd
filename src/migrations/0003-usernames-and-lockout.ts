import { Migration } from '@mikro-orm/migrations';

/**
 * Usernames become unique regardless of case (the stored spelling is kept for display), and failed
 * sign-in attempts are counted in Postgres per account and client IP.
 */
export class Migration0003UsernamesAndLockout extends Migration {
  override up(): void {
    this.addSql(`
do $$
declare clashes text;
begin
  select string_agg(names, '; ') into clashes from (
    select string_agg("username", ', ' order by "id") as names
      from "users" group by lower("username") having count(*) > 1
  ) dup;
  if clashes is not null then
    raise exception 'usernames that differ only in case must be renamed before this migration: %', clashes;
  end if;
end $$;

alter table "users" drop constraint "users_username_unique";
create unique index "users_username_lower_unique" on "users" (lower("username"));

create table "login_guards" (
  "key" varchar(200) primary key,
  "attempts" int not null,
  "window_ends_at" timestamptz not null,
  "lockouts" int not null default 0,
  "updated_at" timestamptz not null default now()
);
create index "login_guards_window_ends_at_index" on "login_guards" ("window_ends_at");
`);
  }

  override down(): void {
    this.addSql(`
drop table if exists "login_guards";
drop index if exists "users_username_lower_unique";
alter table "users" add constraint "users_username_unique" unique ("username");
`);
  }
}
