import { Migration } from '@mikro-orm/migrations';

/**
 * The audit log also records refused attempts to review a held order; the claimed reviewer may be
 * no user at all, so such a record names no admin (the claimed id is in its details).
 */
export class Migration0006ReviewAudit extends Migration {
  override up(): void {
    this.addSql(`alter table "admin_actions" alter column "admin_id" drop not null;`);
  }

  override down(): void {
    this.addSql(`
delete from "admin_actions" where "admin_id" is null;
alter table "admin_actions" alter column "admin_id" set not null;
`);
  }
}
