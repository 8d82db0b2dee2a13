#!/usr/bin/env bash
# Install what a fresh Debian 12 needs (as root), then configure and build into build/.
# Idempotent: installs only missing packages, rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(gcc g++ make cmake pkg-config git ca-certificates uuid-dev libcmocka-dev libncurses-dev
	libmicrohttpd-dev ffmpeg procps psmisc curl python3 tmux util-linux
	redis-server libhiredis-dev liblmdb-dev libtdb-dev prometheus wrk gnuplot-nox gcovr
	clang libclang-rt-14-dev valgrind)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "setup: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
echo "setup: built into $build/" >&2
