#!/usr/bin/env bash
# Makes sure the services the tests talk to are up: PostgreSQL and Redis on 127.0.0.1,
# installing them from Debian's packages when missing, and the database roles the tests
# use. Safe to run again: everything it does is checked first.
set -euo pipefail

PG_PORT="${PG_PORT:-5432}"
REDIS_PORT="${REDIS_PORT:-6379}"

log() { printf '[services] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt_install postgresql postgresql-client
  fi
  if ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 60); do
      pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
      sleep 0.5
    done
  fi
  pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || { log "PostgreSQL did not come up"; exit 1; }
}

# psql as the postgres superuser: over TCP where trust auth allows it, else over the
# local socket with peer auth.
psql_super() {
  if psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; then
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -Atq "$@"
  else
    as_root runuser -u postgres -- psql -p "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 -Atq "$@"
  fi
}

# sm_app: what the application connects as in tests — an ordinary role, so row-level
# security applies to it. sm_admin: creates and drops the per-test databases.
ensure_roles() {
  psql_super <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sm_app') THEN
    CREATE ROLE sm_app LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD 'sm_app';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sm_admin') THEN
    CREATE ROLE sm_admin LOGIN CREATEDB NOSUPERUSER PASSWORD 'sm_admin';
  END IF;
END
$$;
GRANT sm_app TO sm_admin;
SQL
}

# Databases and Redis keys left by earlier runs (tests create one database each).
drop_leftovers() {
  local dbs
  dbs="$(psql_super -c "SELECT datname FROM pg_database WHERE datname LIKE 'sm_test_%'")"
  for db in $dbs; do
    psql_super -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
  done
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --scan --pattern 'smt_*' 2>/dev/null \
    | xargs -r -n 500 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" DEL >/dev/null || true
}

ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server redis-tools
  fi
  if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "starting Redis"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
      --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 40); do
      redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
      sleep 0.25
    done
  fi
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null || { log "Redis did not come up"; exit 1; }
}

ensure_postgres
ensure_roles
ensure_redis
drop_leftovers
log "PostgreSQL and Redis ready"
