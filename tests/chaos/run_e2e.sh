#!/bin/sh
# The chaos run against the real reaper, in a throw-away output directory.
# usage: run_e2e.sh CHAOS REAPER LINEUP SECONDS
set -eu
chaos=$1 reaper=$2 lineup=$3 seconds=$4
out=$(mktemp -d "${TMPDIR:-/tmp}/streamreg-chaos-e2e.XXXXXX")
status=0
"$chaos" --seconds "$seconds" --workers 3 --kill-every 40 --reaper-kill-every 5 \
	--with-reaper "$reaper" --lineup "$lineup" --output-dir "$out" || status=$?
if [ "$status" -ne 0 ] && [ -f "$out/reaper.log" ]; then
	echo "--- last lines of the reaper's log ---"
	tail -n 40 "$out/reaper.log"
fi
rm -rf "$out"
exit "$status"
