#!/usr/bin/env bash
# Benchmarks the release build against a throwaway PostgreSQL, in one run:
#   bare route (HTTP ceiling), GET Patient/<id>, Patient?family=..., Encounter?patient=...&date=ge...,
#   at 1 tenant and at 1,000 tenants of the same total size, plus pgbench on the same SQL.
# Usage: bench/run.sh [--patients N] [--tenants M] [--duration SECONDS] [--connections C] [--seed-scale N]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh

command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
echo "== release build"
swift build -c release --scratch-path .build-release --product fhir-gateway 2>&1 | tail -n 1
BINARY=$(swift build -c release --scratch-path .build-release --show-bin-path)/fhir-gateway

trap stop_postgres EXIT INT TERM
start_postgres fhir_bench shared_buffers=512MB synchronous_commit=off
export BENCH_PG_PORT=$PGPORT BENCH_PGBIN=$PGBIN BENCH_BINARY=$BINARY
python3 bench/run.py "$@"
