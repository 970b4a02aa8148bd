import { Migration } from '@mikro-orm/migrations';

/**
 * Where a crypto's price comes from: the exchange (copied by the scheduled refresh) or an admin
 * (pinned, left alone by the refresh until unpinned), and when the refresh last copied it.
 */
export class Migration0004PriceSource extends Migration {
  override up(): void {
    this.addSql(`
alter table "crypto_currencies"
  add column "price_source" varchar(16) not null default 'exchange'
    check ("price_source" in ('exchange', 'manual')),
  add column "price_refreshed_at" timestamptz null;
`);
  }

  override down(): void {
    this.addSql(`
alter table "crypto_currencies" drop column "price_source", drop column "price_refreshed_at";
`);
  }
}
