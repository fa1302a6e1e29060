#!/bin/sh
# run.sh -- runs every benchmark and prints one figure a line.
#
# usage: sh bench/run.sh BUILD_DIR      (what `make bench` runs)
#
# Each bench executable (BUILD_DIR/bin/bench_*) and each script-based bench
# (bench/bench_*.py, given BUILD_DIR/bin) prints `bench <name> <value> <unit>`
# and `ratio <name> <value>` lines among other chatter. Only those lines go
# to stdout, so `make bench > figures.txt` collects the figures; everything
# else goes to stderr. A failing bench is reported and the others still run;
# the exit status is 1 if any failed.
set -u
build=${1:-build}
bin="$build/bin"
here=$(cd "$(dirname "$0")" && pwd)
failed=0

if [ ! -d "$bin" ]; then
	echo "bench: $bin: no such directory (build first: make build)" >&2
	exit 2
fi
bin=$(cd "$bin" && pwd)

# Figures to stdout, the rest to stderr. The exit status of the bench is
# kept in a file because a pipeline only reports its last command's.
filter() {
	awk '/^(bench|ratio) [^ ]+ [^ ]+/ { print; fflush(); next }
	     { print > "/dev/stderr"; fflush("/dev/stderr") }'
}

run_one() {
	name=$1
	shift
	echo "bench: running $name" >&2
	status=$(mktemp)
	{ "$@" 2>&1; echo $? >"$status"; } | filter
	rc=$(cat "$status")
	rm -f "$status"
	if [ "$rc" != 0 ]; then
		echo "bench: $name failed (exit $rc)" >&2
		failed=1
	fi
}

found=0
for exe in "$bin"/bench_*; do
	[ -f "$exe" ] && [ -x "$exe" ] || continue
	found=1
	run_one "$(basename "$exe")" "$exe"
done

for script in "$here"/bench_*.py; do
	[ -f "$script" ] || continue
	found=1
	run_one "$(basename "$script")" python3 "$script" "$bin"
done
for script in "$here"/bench_*.sh; do
	[ -f "$script" ] || continue
	found=1
	run_one "$(basename "$script")" sh "$script" "$bin"
done

if [ "$found" = 0 ]; then
	echo "bench: no benchmarks found in $bin or $here" >&2
	exit 1
fi
exit "$failed"
