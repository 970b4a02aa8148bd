import { Migration } from '@mikro-orm/migrations';

/**
 * One row per client order id sent to the exchange, written before the first request leaves. A
 * buy that finds its row knows an earlier request may have executed, even when it runs as attempt
 * 1 (a local activity re-run on another worker after a crash), and looks the order up first.
 */
export class Migration0011ExchangeRequests extends Migration {
  override up(): void {
    this.addSql(`
create table "exchange_requests" (
  "client_order_id" varchar(64) primary key,
  "first_sent_at" timestamptz not null default now()
);
`);
  }

  override down(): void {
    this.addSql('drop table if exists "exchange_requests";');
  }
}
