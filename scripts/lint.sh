#!/usr/bin/env bash
# Static analysis as the test command runs it, warnings as errors: clang-tidy
# with the repository's .clang-tidy and cppcheck, over every C file of src/,
# tools/, examples/ and bench/ that the build compiles.
# usage: lint.sh [BUILD_DIR [FILE...]]   (default build/: its compile_commands.json)
#   FILEs (paths from the top of the tree) limit the run to them, to check a
#   change quickly; the test command checks every file.
# Exit status 1 when either tool reports anything; each finding is printed
# with its file and line, the per-file clang-tidy output is in BUILD_DIR/lint/.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift $(($# > 0 ? 1 : 0))
jobs=$(nproc)
out=$build/lint
rm -rf "$out"
mkdir -p "$out/tidy"
[[ -f $build/compile_commands.json ]] || {
	echo "lint: no $build/compile_commands.json: configure the build first" >&2
	exit 1
}

# One compile command per file: the library's sources are compiled twice
# (shared and static) and analysing them twice would only cost time.
python3 - "$build/compile_commands.json" "$out" "$PWD" "$@" <<'PY'
import json, os, sys
db, out, root, only = sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4:])
seen, keep = set(), []
for e in json.load(open(db)):
    f = os.path.relpath(os.path.join(e["directory"], e["file"]), root)
    if only and f not in only:
        continue
    if f.split(os.sep)[0] in ("src", "tools", "examples", "bench") and f not in seen:
        seen.add(f)
        keep.append(e)
json.dump(keep, open(os.path.join(out, "compile_commands.json"), "w"), indent=1)
open(os.path.join(out, "files"), "w").write("".join(sorted(f + "\n" for f in seen)))
PY
nfiles=$(wc -l <"$out/files")
if ((nfiles == 0)); then
	echo "lint: no C file of src/, tools/, examples/ or bench/ in $build/compile_commands.json${1:+ among $*}" >&2
	exit 1
fi
status=0

# clang-tidy: one process per file, nproc at a time, each file's output kept
# apart so that parallel runs do not interleave.  A gcc-only warning flag in
# the build's command lines must not count as a finding.
t0=$SECONDS
tidy_one() {
	local f=$1 log=$2/tidy/${1//\//_}.log
	clang-tidy -p "$2" --quiet --warnings-as-errors='*' \
		--extra-arg=-Wno-unknown-warning-option "$f" >"$log" 2>&1 ||
		echo "$f" >>"$2/tidy-failed"
}
export -f tidy_one
xargs -a "$out/files" -P "$jobs" -I{} bash -c 'tidy_one "$1" "$2"' _ {} "$out"
if [[ -s $out/tidy-failed ]]; then
	status=1
	while read -r f; do
		echo "lint: clang-tidy: $f:" >&2
		grep -E 'warning:|error:' "$out/tidy/${f//\//_}.log" | sed 's/\x1b\[[0-9;]*m//g; s/^/    /' >&2
	done <"$out/tidy-failed"
	echo "lint: clang-tidy FAILED on $(wc -l <"$out/tidy-failed") of $nfiles files" >&2
else
	echo "lint: clang-tidy clean on $nfiles files ($((SECONDS - t0)) s)" >&2
fi

# cppcheck: the checks that find bugs (style opinions are clang-format's and
# the reviewers' business).
t0=$SECONDS
if cppcheck --project="$out/compile_commands.json" --enable=warning,performance,portability \
	--include=scripts/lint/cppcheck_types.h --inline-suppr --error-exitcode=1 --quiet -j "$jobs" \
	--template='{file}:{line}: {severity}: {message} [{id}]' 2>"$out/cppcheck.log"; then
	echo "lint: cppcheck clean on $nfiles files ($((SECONDS - t0)) s)" >&2
else
	status=1
	sed 's/^/    /' "$out/cppcheck.log" >&2
	echo "lint: cppcheck FAILED" >&2
fi
exit "$status"
