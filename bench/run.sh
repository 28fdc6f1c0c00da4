#!/usr/bin/env bash
# Reproduces latch's performance figures from one command and writes them
# to bench/out/report-<date>.md: the Go micro-benchmarks of the hot paths,
# then the load scenarios against a latch built from this checkout, on
# SQLite and, when LATCH_TEST_POSTGRES_URL is set, on PostgreSQL.
#
#   bench/run.sh
#   LATCH_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' bench/run.sh
#
# About six minutes on two cores. Every step runs under a timeout; latch
# listens on 127.0.0.1 only, on a temporary SQLite file or in a scratch
# schema that is dropped afterwards. See bench/README.md.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
started=$(date +%s)
stamp=$(date -u +%Y-%m-%d-%H%M)
out=bench/out
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/latch-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

step() { printf '\n== %s\n' "$*" >&2; }
# The commands go into the report as written here, with $LATCH, $LOAD and
# $LATCH_TEST_POSTGRES_URL left unexpanded, so that no temporary path or
# password ends up in it.
commands="$work/commands.sh"
record() { printf '%s\n' "$1" >>"$commands"; }

step "build"
LATCH="$work/latch"
LOAD="$work/load"
go build -o "$LATCH" ./cmd/latch
go build -o "$LOAD" ./bench/load
go build -o "$work/report" ./bench/report
record 'go build -o $LATCH ./cmd/latch && go build -o $LOAD ./bench/load'

step "micro-benchmarks"
bench_cmd="go test -run '^\$' -bench . -benchmem ./internal/token/ ./internal/password/ ./verify/ ./internal/store/..."
if [[ -n "${LATCH_TEST_POSTGRES_URL:-}" ]]; then
	bench_cmd="LATCH_TEST_POSTGRES_URL=\$LATCH_TEST_POSTGRES_URL $bench_cmd"
fi
record "$bench_cmd"
timeout 300 go test -run '^$' -bench . -benchmem ./internal/token/ ./internal/password/ ./verify/ ./internal/store/... | tee "$work/micro.txt"

# Each invocation starts its own latch (rate limiting off), measures the
# baselines, runs its plan with 2 s of warmup and 10 s measured per run,
# and prints one JSON object. 300 s bounds each, whatever happens.
common='-bin $LATCH -json -d 10s -warmup 2s -baseline 2s'
load() {
	local name=$1 shown=$2
	shift 2
	record "\$LOAD $common $shown"
	timeout 300 "$LOAD" -bin "$LATCH" -json -d 10s -warmup 2s -baseline 2s "$@" >"$work/$name.json"
}

sqlite_plan='refresh@8,refresh@64,user@8,user@64,healthz@8,verify@8,mixed@8,mixed@64,signup@8,login@8'
step "load on SQLite"
load sqlite "-start -scenario $sqlite_plan -verify-mode http,direct" \
	-start -scenario "$sqlite_plan" -verify-mode http,direct

# A fresh server for the flood, so that its peak is the flood's alone.
step "400 concurrent logins on SQLite"
load flood "-start -scenario login@400" -start -scenario login@400

# Open loop: 64 clients offering the target rate on a fixed schedule, the
# latency counted from each scheduled send.
step "open loop on SQLite"
load open-refresh "-start -scenario refresh@64 -rate 1500 -baseline 0" -start -scenario refresh@64 -rate 1500 -baseline 0
load open-user "-start -scenario user@64 -rate 6000 -baseline 0" -start -scenario user@64 -rate 6000 -baseline 0

files=("$work/sqlite.json" "$work/flood.json" "$work/open-refresh.json" "$work/open-user.json")
if [[ -n "${LATCH_TEST_POSTGRES_URL:-}" ]]; then
	pg_plan='refresh@8,refresh@64,user@8,user@64,mixed@8'
	step "load on PostgreSQL"
	load pg "-start -database \"\$LATCH_TEST_POSTGRES_URL\" -scenario $pg_plan" \
		-start -database "$LATCH_TEST_POSTGRES_URL" -scenario "$pg_plan"
	load pg-open-refresh "-start -database \"\$LATCH_TEST_POSTGRES_URL\" -scenario refresh@64 -rate 1000 -baseline 0" \
		-start -database "$LATCH_TEST_POSTGRES_URL" -scenario refresh@64 -rate 1000 -baseline 0
	load pg-open-user "-start -database \"\$LATCH_TEST_POSTGRES_URL\" -scenario user@64 -rate 4000 -baseline 0" \
		-start -database "$LATCH_TEST_POSTGRES_URL" -scenario user@64 -rate 4000 -baseline 0
	files+=("$work/pg.json" "$work/pg-open-refresh.json" "$work/pg-open-user.json")
else
	step "LATCH_TEST_POSTGRES_URL is not set: no PostgreSQL figures"
fi

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# --no-optional-locks: only look; never refresh the index others use.
if ! git --no-optional-locks diff --quiet HEAD -- 2>/dev/null; then
	commit="$commit, with uncommitted changes"
fi
report="$out/report-$stamp.md"
"$work/report" -commit "$commit" -micro "$work/micro.txt" -commands "$commands" \
	-took "$(($(date +%s) - started))s" "${files[@]}" >"$report"
for f in "${files[@]}"; do
	cp "$f" "$out/report-$stamp-$(basename "$f")"
done
step "wrote $report"
