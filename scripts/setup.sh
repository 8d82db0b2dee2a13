#!/usr/bin/env bash
# Install what a fresh Debian 12 needs (as root), then configure and build into build/.
# Idempotent: installs only missing packages, rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(gcc g++ make cmake pkg-config git ca-certificates uuid-dev libcmocka-dev libncurses-dev
	libmicrohttpd-dev ffmpeg procps psmisc curl python3 tmux util-linux
	redis-server libhiredis-dev liblmdb-dev libtdb-dev prometheus wrk gnuplot-nox gcovr
	clang libclang-rt-14-dev valgrind clang-tidy cppcheck dpkg-dev
	chromium nginx nginx-dev libnginx-mod-http-lua systemd)
# The player page's hls.js comes from the npm registry: any node with npm does
# (a nodejs from elsewhere may bundle npm and conflict with Debian's npm).
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Another apt or dpkg (unattended-upgrades, a second setup) may hold apt's
# locks: wait for it rather than fail with rc 100.  DPkg::Lock::Timeout makes
# apt wait for the dpkg frontend lock, but apt 2.6 does not wait for the lists
# lock (apt-get update) nor the archives lock: those it refuses at once, so
# retry while its error names a lock, up to the same 10 minutes.
apt_wait=600
apt_get_waiting() {
	local deadline=$((SECONDS + apt_wait)) err rc said=0
	err=$(mktemp)
	while :; do
		rc=0
		apt-get -o DPkg::Lock::Timeout="$apt_wait" "$@" 2>"$err" || rc=$?
		if ((rc != 0)) && grep -q 'Could not get lock' "$err" && ((SECONDS < deadline)); then
			((said++)) || echo "setup: waiting up to ${apt_wait} s for another apt process:" \
				"$(grep -m1 'Could not get lock' "$err")" >&2
			sleep 5
			continue
		fi
		cat "$err" >&2
		rm -f "$err"
		return "$rc"
	done
}

if ((${#missing[@]})); then
	echo "setup: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt_get_waiting update -qq
	apt_get_waiting install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# hls.js for the player page, at the version web/package-lock.json pins
# (npm ci: exactly the lock file, integrity-checked); skipped when it is there.
pinned=$(sed -n '/"node_modules\/hls.js"/,/}/s/.*"version": *"\([^"]*\)".*/\1/p' web/package-lock.json)
have=$(sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' web/node_modules/hls.js/package.json 2>/dev/null || true)
if [[ $have != "$pinned" ]]; then
	echo "setup: installing hls.js $pinned from the npm registry (web/)" >&2
	npm ci --prefix web --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
fi

build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
echo "setup: built into $build/" >&2
