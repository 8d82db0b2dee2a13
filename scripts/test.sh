#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, builds three
# ways and runs ctest in each (TSan: threaded tests; ASan+UBSan with clang:
# everything but valgrind and the bench, plus the fuzzers; plain gcc build:
# everything, valgrind included).  The last lines are ctest's summary of the
# plain build.  Before them, two checks: the library and the tools are built
# in every build type and with Debian's packaging flags, with gcc and clang
# (scripts/build-matrix.sh), and clang-tidy and cppcheck go over src/, tools/,
# examples/ and bench/ (scripts/lint.sh).  A failed check does not stop the
# tests; it makes the run fail at the end, named in the last line.  Every
# build here treats warnings as errors (SR_WERROR).  Options: --quick runs
# only the plain build.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
jobs=$(nproc)

scripts/setup.sh -DSR_WERROR=ON

failed_checks=()
if ((!quick)); then
	echo "== Build matrix: gcc and clang, every build type and Debian's flags, no warning" >&2
	scripts/build-matrix.sh || failed_checks+=("build matrix (scripts/build-matrix.sh)")
	echo "== Static analysis: clang-tidy and cppcheck, warnings as errors" >&2
	scripts/lint.sh build || failed_checks+=("static analysis (scripts/lint.sh)")

	echo "== ThreadSanitizer build: threaded tests" >&2
	cmake -S . -B build-tsan -DCMAKE_C_COMPILER=clang -DSR_SANITIZE=thread \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSR_WERROR=ON -DSR_BUILD_BENCH=OFF >/dev/null
	# Build exactly the executables of the tests labelled threads
	# (lib_test_X is target test_X), so a new threaded test is never "Not Run".
	mapfile -t tsan_targets < <(cd build-tsan && ctest -N -L threads |
		sed -n 's/^ *Test *#[0-9]*: lib_\(test_[a-z_0-9]*\)$/\1/p')
	cmake --build build-tsan -j"$jobs" --target "${tsan_targets[@]}" >/dev/null
	(cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		ctest -L threads --output-on-failure -j"$jobs")

	# clang here (gcc 12 builds the plain suite), which also builds the
	# libFuzzer targets: ctest runs each for a bounded time.
	echo "== AddressSanitizer + UndefinedBehaviorSanitizer build (clang): whole suite and fuzzers" >&2
	cmake -S . -B build-asan -DCMAKE_C_COMPILER=clang -DSR_SANITIZE=address,undefined \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSR_WERROR=ON >/dev/null
	cmake --build build-asan -j"$jobs" >/dev/null
	(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest -LE 'bench|nosan|valgrind' --output-on-failure -j"$jobs")
fi

echo "== Plain build: whole suite" >&2
cd build
rc=0
ctest --output-on-failure -j"$jobs" || rc=$?
if ((${#failed_checks[@]})); then
	printf 'test.sh: FAILED: %s\n' "${failed_checks[@]}" >&2
	exit 1
fi
exit "$rc"
