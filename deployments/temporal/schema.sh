#!/bin/sh
# One-shot, before the Temporal server starts: creates Temporal's two databases on its own Postgres
# (temporal-postgres) and brings their schemas up to the version the admin-tools image ships.
# Safe to run again: an existing database or version table is left alone, update-schema applies
# only the versions that are missing.
set -eu
tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" \
    -u "$POSTGRES_USER" "$@" # the password comes from SQL_PASSWORD
}
for db in temporal temporal_visibility; do
  case $db in
    temporal) schema=temporal ;;
    *) schema=visibility ;;
  esac
  tool --db "$db" create || echo "database $db exists (or see the error above)"
  # setup-schema -v 0.0 creates the version table once; update-schema then applies every version.
  tool --db "$db" setup-schema -v 0.0 || echo "schema of $db already set up (or see the error above)"
  tool --db "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$schema/versioned"
done
echo 'temporal schema ready'
