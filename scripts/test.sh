#!/usr/bin/env bash
# The whole test suite: builds, starts a throwaway PostgreSQL, runs the Swift tests against
# SQLite and PostgreSQL, then the Python validator's own tests. Stops the cluster however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

need_postgres() { ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
if need_postgres; then
  echo "== installing PostgreSQL (Debian package)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || command -v initdb)")

echo "== Python tools (validator, its tests)"
python3 -m pip install --quiet --disable-pip-version-check -r tools/requirements.txt

PGDIR=$(mktemp -d /tmp/fhir-gateway-pg.XXXXXX)
cleanup() {
  "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PGDIR"
}
trap cleanup EXIT INT TERM

PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
PGUSER_OS=$(id -un)
RUNAS=()
if [ "$(id -u)" = "0" ]; then
  # initdb refuses to run as root: run the cluster as the unprivileged 'postgres' user.
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown -R postgres "$PGDIR"
  RUNAS=(runuser -u postgres --)
  PGUSER_OS=postgres
fi
echo "== starting PostgreSQL on 127.0.0.1:$PGPORT ($PGDIR)"
"${RUNAS[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/postgres.log" -w \
  -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
PSQL=("$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -q)
"${PSQL[@]}" -d postgres <<'SQL'
CREATE ROLE fhir_owner LOGIN PASSWORD 'owner';
CREATE ROLE fhir_gateway LOGIN PASSWORD 'gateway' NOSUPERUSER NOBYPASSRLS;
CREATE DATABASE fhir_test OWNER fhir_owner;
SQL

export FHIR_TEST_POSTGRES_URL="postgres://fhir_gateway:gateway@127.0.0.1:$PGPORT/fhir_test"
export FHIR_TEST_POSTGRES_MIGRATION_URL="postgres://fhir_owner:owner@127.0.0.1:$PGPORT/fhir_test"
export FHIR_TEST_POSTGRES_ADMIN_URL="postgres://postgres@127.0.0.1:$PGPORT/fhir_test"
export FHIR_SHARED="${FHIR_SHARED:-$ROOT/../shared/fhir}"

echo "== swift build --build-tests"
swift build --build-tests
echo "== swift test (SQLite and PostgreSQL)"
swift test --skip-build
echo "== validator tests"
python3 -m pytest -q -p no:cacheprovider tools/test_validate_fhir.py
