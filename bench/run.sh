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
#                     [--soak-seconds S] [--open-connections O] [--rate R]
#   --binary PATH  use this release build of fhir-gateway instead of building one; --help lists the scenarios.
set -euo pipefail
export BENCH_COMMAND="bench/run.sh${1+ $*}"

BINARY=""
ARGUMENTS=()
while [ $# -gt 0 ]; do
  case $1 in
    --binary) BINARY=$(realpath "${2:?--binary needs a path}"); shift ;;
    -h|--help) exec python3 "$(dirname "$0")/run.py" --help ;;
    *) ARGUMENTS+=("$1") ;;
  esac
  shift
done
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh

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
trap stop_postgres EXIT INT TERM
# synchronous_commit keeps its default here: run.py sets it per database and reports it with every figure.
start_postgres fhir_bench shared_buffers=512MB
export BENCH_PG_PORT=$PGPORT BENCH_PGBIN=$PGBIN BENCH_BINARY=$BINARY BENCH_PG_LOG=$PGDIR/postgres.log
python3 bench/run.py "${ARGUMENTS[@]}"
