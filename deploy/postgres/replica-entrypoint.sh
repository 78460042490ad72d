#!/usr/bin/env bash
# gisapp read replica: a hot standby of the `postgis` service for the citizen-facing instance
# (docker-compose.yml, profile "scale"; docs/deploy.md, "Read replica"). The same image as `postgis`.
#
# First start (empty data volume): wait for the primary, make the physical slot `gisapp_replica` (the
# primary then keeps the WAL this replica has not received, up to max_slot_wal_keep_size) and clone
# the primary with pg_basebackup (-R: standby.signal and primary_conninfo). Every start: run postgres
# as a hot standby. Roles, grants and data all come from the primary.
set -euo pipefail

: "${PGDATA:=/var/lib/postgresql/data}"
: "${PRIMARY_HOST:=postgis}"
: "${PRIMARY_PORT:=5432}"
REPLICATION_USER=gisapp_replicator
SLOT=gisapp_replica

if [ -z "${PG_REPLICATION_PASSWORD:-}" ]; then
  echo "gisapp replica: PG_REPLICATION_PASSWORD が未設定です / PG_REPLICATION_PASSWORD is not set" >&2
  exit 1
fi

if [ "$(id -u)" = 0 ]; then  # the container starts as root: hand the volume to postgres, then drop to it
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 0700 "$PGDATA"
  exec gosu postgres bash "$0" "$@"
fi

export PGPASSWORD="$PG_REPLICATION_PASSWORD"  # read by libpq; never on a command line
conn=(--host="$PRIMARY_HOST" --port="$PRIMARY_PORT" --username="$REPLICATION_USER" --no-password)

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready --quiet --host="$PRIMARY_HOST" --port="$PRIMARY_PORT"; do
    echo "gisapp replica: waiting for the primary $PRIMARY_HOST:$PRIMARY_PORT" >&2
    sleep 2
  done
  pg_receivewal "${conn[@]}" --slot="$SLOT" --create-slot --if-not-exists
  pg_basebackup "${conn[@]}" --pgdata="$PGDATA" --wal-method=stream --slot="$SLOT" \
    --write-recovery-conf --checkpoint=fast
  echo "gisapp replica: cloned from $PRIMARY_HOST:$PRIMARY_PORT" >&2
fi

# hot_standby_feedback: the primary keeps the rows a replica's running query still reads instead of
# the replica cancelling that query after max_standby_streaming_delay.
exec postgres -c hot_standby=on -c hot_standby_feedback=on "$@"
