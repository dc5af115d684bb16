# Sourced by scripts/test.sh and bench/run.sh: a private, throwaway PostgreSQL cluster.
# After start_postgres: PGBIN, PGPORT, PGDIR are set and roles fhir_owner / fhir_gateway exist.

install_postgres_if_missing() {
  if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "== installing PostgreSQL (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || command -v initdb)")
}

stop_postgres() {
  if [ -n "${PGDIR:-}" ]; then
    # pg_ctl refuses to run as root, like initdb: stop the cluster as the user that runs it.
    local runas=()
    if [ "$(id -u)" = "0" ]; then runas=(runuser -u postgres --); fi
    "${runas[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
  fi
}

# start_postgres DATABASE [extra postgres -c settings...]
start_postgres() {
  local database=$1; shift
  install_postgres_if_missing
  PGDIR=$(mktemp -d /tmp/fhir-gateway-pg.XXXXXX)
  PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  local runas=()
  if [ "$(id -u)" = "0" ]; then
    # initdb refuses to run as root: run the cluster as the unprivileged 'postgres' user.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown -R postgres "$PGDIR"
    runas=(runuser -u postgres --)
  fi
  local settings="-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=300"
  for setting in "$@"; do settings="$settings -c $setting"; done
  echo "== starting PostgreSQL on 127.0.0.1:$PGPORT ($PGDIR)"
  "${runas[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  "${runas[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/postgres.log" -w -o "$settings" start >/dev/null
  "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -q -d postgres <<SQL
CREATE ROLE fhir_owner LOGIN PASSWORD 'owner';
CREATE ROLE fhir_gateway LOGIN PASSWORD 'gateway' NOSUPERUSER NOBYPASSRLS;
CREATE DATABASE $database OWNER fhir_owner;
SQL
}
