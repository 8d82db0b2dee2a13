#!/usr/bin/env bash
# Builds the library and the tools in every configuration a user or a packager
# is likely to use, with gcc and clang, warnings as errors: CMake's four build
# types and Debian's packaging flags (dpkg-buildflags).  Tests, the bench and
# the nginx module are left out to keep it fast; scripts/test.sh's plain build
# builds those.
# usage: build-matrix.sh [OUT_DIR]   (default build-matrix/; one build dir per config)
# Exit status 1 names every configuration that failed, with its first errors;
# the full log of each is OUT_DIR/<config>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-matrix}
jobs=$(nproc)
mkdir -p "$out"

# Debian's flags as the issue and a package build give them; dpkg-buildflags
# (dpkg-dev) supplies the linker flags where it is installed.
deb_cflags="-O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2 -Wformat -Werror=format-security"
deb_ldflags=$(dpkg-buildflags --get LDFLAGS 2>/dev/null || echo "-Wl,-z,relro")

configs=()
for cc in gcc clang; do
	for type in Debug Release RelWithDebInfo MinSizeRel debian; do
		configs+=("$cc-$type")
	done
done

failed=()
start=$SECONDS
for config in "${configs[@]}"; do
	cc=${config%%-*} type=${config#*-}
	dir=$out/$config log=$out/$config.log
	# The nginx module is compiled by nginx's own configure and make, with
	# Debian's flags whatever the build type: the plain build builds it once.
	args=(-DCMAKE_C_COMPILER="$cc" -DSR_WERROR=ON -DBUILD_TESTING=OFF -DSR_BUILD_BENCH=OFF
		-DSR_BUILD_NGINX=OFF)
	env=()
	if [[ $type == debian ]]; then
		# dh_auto_configure's build type: no flags of CMake's own, only these.
		args+=(-DCMAKE_BUILD_TYPE=None)
		env=(CFLAGS="$deb_cflags" LDFLAGS="$deb_ldflags")
	else
		args+=(-DCMAKE_BUILD_TYPE="$type")
	fi
	t0=$SECONDS
	# A fresh cache each time: CFLAGS/LDFLAGS are read on the first configure only.
	rm -rf "$dir"
	if env "${env[@]}" cmake -S . -B "$dir" "${args[@]}" >"$log" 2>&1 &&
		cmake --build "$dir" -j"$jobs" >>"$log" 2>&1 &&
		# -Werror does not cover the linker, nor warnings a flag keeps non-fatal.
		! grep -q 'warning:' "$log"; then
		echo "build-matrix: $config ok ($((SECONDS - t0)) s)" >&2
	else
		failed+=("$config")
		echo "build-matrix: $config FAILED ($((SECONDS - t0)) s); first errors:" >&2
		grep -E -m 10 'error:|warning:|CMake Error|undefined reference' "$log" | sed 's/^/    /' >&2
		echo "    (full log: $log)" >&2
	fi
done

if ((${#failed[@]})); then
	echo "build-matrix: ${#failed[@]} of ${#configs[@]} configurations FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "build-matrix: all ${#configs[@]} configurations built without a warning in $((SECONDS - start)) s" >&2
