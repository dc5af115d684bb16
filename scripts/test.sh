#!/usr/bin/env bash
# The whole test suite: builds, starts a throwaway PostgreSQL, runs the Swift tests against
# SQLite and PostgreSQL, then the Python validator's own tests. Stops the cluster however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/lib/postgres.sh

# FoundationXML (narrative validation) links libxml2.
if ! dpkg -s libxml2-dev >/dev/null 2>&1; then
  echo "== installing libxml2-dev (Debian package)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-dev >/dev/null
fi

echo "== Python tools (validator, its tests)"
python3 -m pip install --quiet --disable-pip-version-check -r tools/requirements.txt

# Two clusters: the shared store, and a second server for tenants on a store of their own.
stop_both() { PGDIR=${SECOND_PGDIR:-} stop_postgres; PGDIR=${FIRST_PGDIR:-} stop_postgres; }
trap stop_both EXIT INT TERM
start_postgres fhir_second fsync=off
SECOND_PGDIR=$PGDIR
export FHIR_TEST_POSTGRES2_URL="postgres://fhir_gateway:gateway@127.0.0.1:$PGPORT/fhir_second"
export FHIR_TEST_POSTGRES2_MIGRATION_URL="postgres://fhir_owner:owner@127.0.0.1:$PGPORT/fhir_second"
start_postgres fhir_test fsync=off
FIRST_PGDIR=$PGDIR
export FHIR_TEST_POSTGRES_URL="postgres://fhir_gateway:gateway@127.0.0.1:$PGPORT/fhir_test"
export FHIR_TEST_POSTGRES_MIGRATION_URL="postgres://fhir_owner:owner@127.0.0.1:$PGPORT/fhir_test"
export FHIR_TEST_POSTGRES_ADMIN_URL="postgres://postgres@127.0.0.1:$PGPORT/fhir_test"
export FHIR_SHARED="${FHIR_SHARED:-$ROOT/../shared/fhir}"
# Each parser fuzz target runs this long (ParserFuzzTests); a trap anywhere fails the run.
export FHIR_FUZZ_SECONDS="${FHIR_FUZZ_SECONDS:-10}"

echo "== swift build --build-tests"
swift build --build-tests
echo "== swift test (SQLite and PostgreSQL)"
swift test --skip-build
# run_alone FILTER: one suite in a process of its own. The Swift test runner sometimes hangs before
# running anything (seen 2 times in 8 here: main thread in dispatchMain, no timers, no database work,
# with or without XCTest); only that hang, before the suite's first test has started, is retried.
run_alone() {
  local filter=$1 log status
  log=$(mktemp)
  for attempt in 1 2 3; do
    set +e
    # Through a pseudo-terminal, so the runner's lines reach the log as they are written.
    timeout 180 script -q -e -c "swift test --skip-build --filter $filter" "$log"
    status=$?
    set -e
    [ "$status" = "0" ] && { rm -f "$log"; return 0; }
    pkill -9 -f "fhir-gatewayPackageTests.xctest.*--filter $filter" 2>/dev/null || true
    if [ "$status" = "124" ] && ! grep -q "Suite $filter started" "$log"; then
      echo "== the test runner hung before $filter started (attempt $attempt of 3)"
      continue
    fi
    rm -f "$log"
    return "$status"
  done
  rm -f "$log"
  return 1
}

echo "== database outage (stops and restarts the throwaway cluster, so it runs alone)"
PG_CTL=("${PGBIN}/pg_ctl" -D "$PGDIR/data")
RUNAS=""
[ "$(id -u)" = "0" ] && RUNAS="runuser -u postgres --"
export FHIR_TEST_PG_STOP="$RUNAS ${PG_CTL[*]} -m fast -w stop >/dev/null"
export FHIR_TEST_PG_START="$RUNAS ${PG_CTL[*]} -l $PGDIR/postgres.log -w -o '-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off' start >/dev/null"
export FHIR_TEST_PG_CONNECTIONS="$PGBIN/psql -h 127.0.0.1 -p $PGPORT -U postgres -d fhir_test -tAc \"SELECT count(*) FROM pg_stat_activity WHERE usename = 'fhir_gateway'\""
run_alone DatabaseOutageTests
unset FHIR_TEST_PG_STOP FHIR_TEST_PG_START FHIR_TEST_PG_CONNECTIONS
echo "== pooled connections leave no memory behind (measured alone)"
export FHIR_TEST_POOL_MEMORY=1
run_alone PoolMemoryTests
unset FHIR_TEST_POOL_MEMORY
echo "== validator tests"
python3 -m pytest -q -p no:cacheprovider tools/test_validate_fhir.py
