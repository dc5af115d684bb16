#!/usr/bin/env bash
# Benchmarks the release build against a throwaway PostgreSQL, in one run:
#   bare route (HTTP ceiling), GET Patient/<id>, Patient?family=..., Encounter?patient=...&date=ge...,
#   at 1 tenant, 1,000 tenants and 10,000 tenants of the same total size, plus pgbench on the same SQL, plus lab
#   writes with synchronous_commit on (the headline) and off; with --seed-scale N the same reads and the
#   size-sensitivity queries (with their query plans) against 1 tenant of N patients; start-up time and memory
#   with 2 and 10,000 configured tenants; 10,000 keep-alive connections at a fixed request rate; provisioning
#   --tenants-large tenants through the admin API (rate, PUT to first 200, RSS); a tenant over its read limit
#   beside a tenant under a steady load (fairness).
#   Prints Markdown and writes bench/results/latest.json (and bench/results/plans.md).
# Usage: bench/run.sh [--binary PATH] [--scenario NAME[,NAME...]] [--json PATH] [--patients N] [--tenants M]
#                     [--tenants-large L] [--duration SECONDS] [--connections C] [--seed-scale N]
#                     [--soak-seconds S] [--open-connections O] [--rate R] [--export-patients N] [--export-timeout S]
#                     [--reseed] [--pg-data DIR]
#   --binary PATH  use this release build of fhir-gateway instead of building one; --help lists the scenarios.
#   --pg-data DIR  keep the PostgreSQL cluster in DIR (created on first use, stopped but kept at exit) instead of a throwaway
#                  one, so that the export scenario's seeded database survives between runs. --scenario export
#                  (as its own argument) uses /var/tmp/fhir-gateway-bench-pg unless this is given.
set -euo pipefail
export BENCH_COMMAND="bench/run.sh${1+ $*}"

BINARY=""
PG_DATA=""
DEFAULT_EXPORT_PG_DATA=/var/tmp/fhir-gateway-bench-pg  # the export scenario's cluster when --pg-data is not given
ARGUMENTS=()
while [ $# -gt 0 ]; do
  case $1 in
    --binary) BINARY=$(realpath "${2:?--binary needs a path}"); shift ;;
    --pg-data) PG_DATA=$(realpath -m "${2:?--pg-data needs a directory}"); shift ;;
    --scenario) ARGUMENTS+=("$1" "${2:?--scenario needs a name}")
                if [ -z "$PG_DATA" ] && [[ ",$2," == *,export,* ]]; then PG_DATA=$DEFAULT_EXPORT_PG_DATA; fi; shift ;;
    -h|--help) exec python3 "$(dirname "$0")/run.py" --help ;;
    *) ARGUMENTS+=("$1") ;;
  esac
  shift
done
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh

# start_kept_postgres DIR DATABASE [extra postgres -c settings...]: like start_postgres, but the cluster lives in DIR: made
# there (with the same roles) on first use, started again on a later run (on a new port), stopped and kept by
# stop_kept_postgres. One run at a time: a cluster already running in DIR is refused.
start_kept_postgres() {
  local directory=$1 database=$2; shift 2
  install_postgres_if_missing
  PGDIR=$directory
  PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  local runas=()
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    runas=(runuser -u postgres --)
  fi
  if [ -f "$PGDIR/data/postmaster.pid" ] && "${runas[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
    echo "bench/run.sh: a PostgreSQL cluster is already running in $PGDIR/data (another bench run?); if none is, stop it:" \
      "${runas[*]} $PGBIN/pg_ctl -D $PGDIR/data -m fast stop" >&2
    PGDIR=""
    exit 1
  fi
  local fresh=""
  if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
    rm -rf "$PGDIR/data"
    mkdir -p "$PGDIR"
    [ "$(id -u)" = "0" ] && chown -R postgres "$PGDIR"
    "${runas[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fresh=1
  fi
  local settings="-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=300"
  for setting in "$@"; do settings="$settings -c $setting"; done
  echo "== starting PostgreSQL on 127.0.0.1:$PGPORT ($PGDIR, kept after the run)"
  "${runas[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/postgres.log" -w -t 600 -o "$settings" start >/dev/null
  if [ -n "$fresh" ]; then
    "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -q -d postgres <<SQL
CREATE ROLE fhir_owner LOGIN PASSWORD 'owner';
CREATE ROLE fhir_gateway LOGIN PASSWORD 'gateway' NOSUPERUSER NOBYPASSRLS;
CREATE DATABASE $database OWNER fhir_owner;
SQL
  fi
}

stop_kept_postgres() {
  if [ -n "${PGDIR:-}" ]; then
    local runas=()
    if [ "$(id -u)" = "0" ]; then runas=(runuser -u postgres --); fi
    # A fast (clean) shutdown, so that the next start needs no recovery.
    "${runas[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w -t 600 stop >/dev/null 2>&1 || true
  fi
}

command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
if [ -z "$BINARY" ]; then
  echo "== release build"
  swift build -c release --scratch-path .build-release --product fhir-gateway 2>&1 | tail -n 1
  BINARY=$(swift build -c release --scratch-path .build-release --show-bin-path)/fhir-gateway
fi
[ -x "$BINARY" ] || { echo "bench/run.sh: $BINARY is not an executable" >&2; exit 1; }
echo "== gateway: $BINARY"

# The connections scenario holds 10,000 sockets in the client and as many in the gateway.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# synchronous_commit keeps its default here: run.py sets it per database and reports it with every figure.
if [ -n "$PG_DATA" ]; then
  trap stop_kept_postgres EXIT INT TERM
  start_kept_postgres "$PG_DATA" fhir_bench shared_buffers=512MB
else
  trap stop_postgres EXIT INT TERM
  start_postgres fhir_bench shared_buffers=512MB
fi
export BENCH_PG_PORT=$PGPORT BENCH_PGBIN=$PGBIN BENCH_BINARY=$BINARY BENCH_PG_LOG=$PGDIR/postgres.log
export BENCH_PG_DATA=$PGDIR/data BENCH_PG_KEPT=${PG_DATA:+1}
python3 bench/run.py "${ARGUMENTS[@]}"
