#!/usr/bin/env bash
# Reproduces latch's performance figures from one command and writes them
# to bench/out/report-<date>.md: the Go micro-benchmarks of the hot paths,
# then the load scenarios against a latch built from this checkout, on
# SQLite and, when LATCH_TEST_POSTGRES_URL is set, on PostgreSQL.
#
#   bench/run.sh
#   LATCH_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' bench/run.sh
#   bench/run.sh memory                              # issue 15's memory scenario only
#   LATCH_BENCH_BASELINE=f71df7c bench/run.sh memory # ... and the same for that commit
#
# About nine minutes on two cores (memory only: a minute and a half per
# database and build). Every step runs under a timeout; latch
# listens on 127.0.0.1 only, on a temporary SQLite file or in a scratch
# schema that is dropped afterwards. See bench/README.md.
set -euo pipefail

mode=${1:-all}
if [[ $mode != all && $mode != memory ]]; then
	echo "usage: bench/run.sh [all|memory]" >&2
	exit 2
fi

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

# A baseline to compare with: another commit's tree, exported with git
# archive so that neither this checkout nor the repository's worktrees
# are touched.
baseline=${LATCH_BENCH_BASELINE:-}
if [[ -n "$baseline" ]]; then
	base_rev=$(git rev-parse --short "$baseline^{commit}")
	step "build the baseline, $base_rev"
	mkdir "$work/base-src"
	git archive "$base_rev" | tar -x -C "$work/base-src"
	(cd "$work/base-src" && go build -o "$work/latch-base" ./cmd/latch)
	record "git archive $base_rev | tar -x -C \$BASE && (cd \$BASE && go build -o \$LATCH_BASE ./cmd/latch)"
fi

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

# load_base is load with the baseline build, labelled so in its JSON.
load_base() {
	local name=$1 shown=$2
	shift 2
	record "\$LOAD -bin \$LATCH_BASE -label 'baseline $base_rev' -json -d 10s -warmup 2s -baseline 2s $shown"
	timeout 300 "$LOAD" -bin "$work/latch-base" -label "baseline $base_rev" -json -d 10s -warmup 2s -baseline 2s "$@" >"$work/$name.json"
}

# Issue 15: peak RSS while 64 clients sign in for 30 s, then under 400
# concurrent logins, each on a fresh server, on each database; with a
# baseline, the two builds run back to back, alternating which goes
# first, so that both see much the same machine.
memory_scenario() {
	local dbs=(sqlite) db shown scenario tag
	local -a args
	if [[ -n "${LATCH_TEST_POSTGRES_URL:-}" ]]; then
		dbs+=(postgres)
	fi
	for db in "${dbs[@]}"; do
		args=(-start)
		shown=-start
		if [[ $db == postgres ]]; then
			args+=(-database "$LATCH_TEST_POSTGRES_URL")
			shown='-start -database "$LATCH_TEST_POSTGRES_URL"'
		fi
		for scenario in 'login@64 -d 30s' 'login@400'; do
			tag=${scenario%% *}
			tag=${tag/@/}
			if [[ -n "$baseline" && $tag == login400 ]]; then
				step "memory: $scenario on $db, baseline $base_rev"
				# shellcheck disable=SC2086 # $scenario is words of flags
				load_base "mem-$db-$tag-base" "$shown -scenario $scenario" "${args[@]}" -scenario $scenario
			fi
			step "memory: $scenario on $db"
			# shellcheck disable=SC2086
			load "mem-$db-$tag" "$shown -scenario $scenario" "${args[@]}" -scenario $scenario
			if [[ -n "$baseline" && $tag == login64 ]]; then
				step "memory: $scenario on $db, baseline $base_rev"
				# shellcheck disable=SC2086
				load_base "mem-$db-$tag-base" "$shown -scenario $scenario" "${args[@]}" -scenario $scenario
			fi
			files+=("$work/mem-$db-$tag.json")
			if [[ -n "$baseline" ]]; then
				files+=("$work/mem-$db-$tag-base.json")
			fi
		done
	done
}

files=()
micro=()
if [[ $mode == all ]]; then
	step "micro-benchmarks"
	bench_cmd="go test -run '^\$' -bench . -benchmem ./internal/token/ ./internal/password/ ./verify/ ./internal/store/..."
	if [[ -n "${LATCH_TEST_POSTGRES_URL:-}" ]]; then
		bench_cmd="LATCH_TEST_POSTGRES_URL=\$LATCH_TEST_POSTGRES_URL $bench_cmd"
	fi
	record "$bench_cmd"
	timeout 300 go test -run '^$' -bench . -benchmem ./internal/token/ ./internal/password/ ./verify/ ./internal/store/... | tee "$work/micro.txt"

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

	files+=("$work/sqlite.json" "$work/flood.json" "$work/open-refresh.json" "$work/open-user.json")
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
	micro=(-micro "$work/micro.txt")
fi
memory_scenario

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# --no-optional-locks: only look; never refresh the index others use.
if ! git --no-optional-locks diff --quiet HEAD -- 2>/dev/null; then
	commit="$commit, with uncommitted changes"
fi
report="$out/report-$stamp.md"
"$work/report" -commit "$commit" "${micro[@]}" -commands "$commands" \
	-took "$(($(date +%s) - started))s" "${files[@]}" >"$report"
for f in "${files[@]}"; do
	cp "$f" "$out/report-$stamp-$(basename "$f")"
done
step "wrote $report"
