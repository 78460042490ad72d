#!/usr/bin/env bash
# gisapp database bootstrap: login roles, group roles, the database and its extensions.
# The same steps as the local stack (gisapp/localstack/stack.py, _bootstrap_db); tables, views and
# grants on them come from `gisapp migrate`, run as gisapp_owner.
#
# The postgres image runs this once, on the first start with an empty data volume. It is idempotent
# and takes every password from the environment, so it is also how passwords are rotated:
#   docker compose up -d postgis
#   docker compose exec -u postgres postgis /docker-entrypoint-initdb.d/20-gisapp.sh
set -euo pipefail

export POSTGRES_USER="${POSTGRES_USER:-postgres}"

if [ -z "${POSTGRES_PASSWORD:-}" ]; then
  echo "gisapp init: POSTGRES_PASSWORD が未設定です / POSTGRES_PASSWORD is not set" >&2
  exit 1
fi
for var in PG_OWNER_PASSWORD PG_APP_PASSWORD PG_PUBLIC_PASSWORD PG_REPLICATION_PASSWORD; do
  value="${!var:-}"
  # The apps receive these inside connection URLs, so only characters a URL carries as they are.
  if [[ ! "$value" =~ ^[A-Za-z0-9._~-]{16,}$ ]]; then
    echo "gisapp init: $var は 16 文字以上の英数字と . _ ~ - で指定してください（例: openssl rand -hex 32）" >&2
    echo "gisapp init: $var must be at least 16 characters of A-Z a-z 0-9 . _ ~ - (e.g. openssl rand -hex 32)" >&2
    exit 1
  fi
done

# Passwords reach psql through \getenv, never on a command line (visible in the process list).
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname postgres <<'SQL'
\getenv su POSTGRES_USER
\getenv su_pw POSTGRES_PASSWORD
\getenv owner_pw PG_OWNER_PASSWORD
\getenv app_pw PG_APP_PASSWORD
\getenv public_pw PG_PUBLIC_PASSWORD
\getenv repl_pw PG_REPLICATION_PASSWORD

SELECT format('ALTER ROLE %I PASSWORD %L', :'su', :'su_pw') \gexec

-- Login roles: created on the first run, given the current password on every run.
SELECT format('%s ROLE %I %s PASSWORD %L',
              CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = r.name) THEN 'ALTER' ELSE 'CREATE' END,
              r.name, r.attrs, r.pw)
FROM (VALUES ('gisapp_owner', 'LOGIN CREATEROLE', :'owner_pw'),
             ('gisapp_app', 'LOGIN', :'app_pw'),
             ('gisapp_public', 'LOGIN', :'public_pw'),
             -- Streams the WAL to read replicas (the `replica` service, deploy/postgres/replica-entrypoint.sh).
             ('gisapp_replicator', 'LOGIN REPLICATION', :'repl_pw')) AS r (name, attrs, pw)
\gexec

-- A replica that is gone for good must not fill the disk: past this much WAL held for its slot the
-- slot is given up and that replica must be cloned again (docs/deploy.md, "Read replica").
ALTER SYSTEM SET max_slot_wal_keep_size = '2GB';

-- Group roles that the migrations grant to: the internal app and ingest read and write, the
-- citizen-facing instance reads the published views only.
SELECT format('CREATE ROLE %I NOLOGIN', g)
FROM unnest(ARRAY['gisapp_rw', 'gisapp_read_public']) AS g
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = g)
\gexec
SET client_min_messages = warning;  -- "is already a member" on a re-run
GRANT gisapp_rw TO gisapp_app;
GRANT gisapp_read_public TO gisapp_public;
GRANT gisapp_rw, gisapp_read_public TO gisapp_owner WITH ADMIN OPTION;

SELECT 'CREATE DATABASE gisapp OWNER gisapp_owner'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'gisapp')
\gexec

\connect gisapp
SET client_min_messages = warning;
-- Extensions need the superuser; the owner's migrations find them present.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pgrouting;
REVOKE ALL ON DATABASE gisapp FROM PUBLIC;
GRANT CONNECT ON DATABASE gisapp TO gisapp_app, gisapp_public;
SQL

# Replication connections (pg_hba.conf's "all" does not cover them): the replicator only, by password.
hba="$(psql -v ON_ERROR_STOP=1 --no-psqlrc -tA --username "$POSTGRES_USER" --dbname postgres -c 'SHOW hba_file')"
line="host replication gisapp_replicator all scram-sha-256"
if ! grep -qxF "$line" "$hba"; then
  printf '\n# gisapp: read replicas (docs/deploy.md, "Read replica")\n%s\n' "$line" >>"$hba"
fi
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname postgres -c 'SELECT pg_reload_conf()' >/dev/null

echo "gisapp init: roles, database gisapp, postgis and pgrouting are ready"
