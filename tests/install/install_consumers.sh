#!/usr/bin/env bash
# usage: install_consumers.sh BUILD_DIR SOURCE_DIR WORK_DIR [TOOLS]
# What a user does first: install into a scratch prefix, build a consumer through
# pkg-config and through find_package(streamreg), and run the installed tools.
set -euo pipefail
build=$1 src=$2 work=$3 tools=${4:-1}   # TOOLS 0: a build without the tools
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null

# pkg-config
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib/$(gcc -dumpmachine)/pkgconfig"
cc -std=c11 -Wall -Werror "$src/consumer.c" $(pkg-config --cflags --libs streamreg) \
	-o "$work/consumer-pc"
LD_LIBRARY_PATH="$work/prefix/lib" "$work/consumer-pc" "srinst_pc_$$"
# The package version is the header's SR_VERSION_MAJOR.SR_VERSION_MINOR.
hdr=$(awk '/^#define SR_VERSION_MAJOR/ {M=$3} /^#define SR_VERSION_MINOR/ {m=$3} END {print M "." m}' \
	"$work/prefix/include/streamreg.h")
pcv=$(pkg-config --modversion streamreg)
[[ $pcv == "$hdr" || $pcv == "$hdr".* ]] ||
	{ echo "install_consumers: pkg-config says $pcv, streamreg.h says $hdr" >&2; exit 1; }

# CMake package config
cmake -S "$src/consumer" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
LD_LIBRARY_PATH="$work/prefix/lib" "$work/cmake-build/consumer" "srinst_cm_$$"
echo "install_consumers: pkg-config and find_package consumers built and ran"
((tools)) || exit 0

# The installed tools, from a prefix that moved after the install: they must
# find their library through their RUNPATH ($ORIGIN), not through a path
# compiled in, the loader's defaults or the environment.
mv "$work/prefix" "$work/moved"
unset LD_LIBRARY_PATH
bin=$work/moved/bin
lib=$(find "$work/moved" -name 'libstreamreg.so.2' -print -quit)
[[ -n $lib ]] || { echo "install_consumers: no libstreamreg.so.2 installed" >&2; exit 1; }
name="srinst_tools_$$"
trap '"$bin/streamreg" destroy "$name" >/dev/null 2>&1 || true' EXIT
for tool in streamreg streamreg-reaper streamreg-server; do
	[[ -x $bin/$tool ]] || { echo "install_consumers: $tool not installed in bin/" >&2; exit 1; }
	runpath=$(readelf -d "$bin/$tool" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
	if [[ $runpath != '$ORIGIN/'* ]]; then
		echo "install_consumers: $tool has RUNPATH '$runpath', want \$ORIGIN/..." >&2
		exit 1
	fi
	# The library the loader picks is the one in this prefix, not another copy.
	got=$(ldd "$bin/$tool" | awk '$1 == "libstreamreg.so.2" { print $3 }')
	if [[ $(realpath -e "$got" 2>/dev/null) != "$(realpath "$lib")" ]]; then
		echo "install_consumers: $tool loads libstreamreg from '$got', want $lib" >&2
		exit 1
	fi
	"$bin/$tool" --help >"$work/$tool.help" 2>&1 ||
		{ echo "install_consumers: $tool --help failed:" >&2; cat "$work/$tool.help" >&2; exit 1; }
	grep -qi usage "$work/$tool.help" ||
		{ echo "install_consumers: $tool --help printed no usage" >&2; exit 1; }
done
PATH=$bin:$PATH
streamreg create "$name" --capacity 16 >/dev/null
streamreg add "$name" 5e7a0000-0000-4000-8000-0000000000a1 >/dev/null
streamreg ls "$name" | grep -q 5e7a0000-0000-4000-8000-0000000000a1 ||
	{ echo "install_consumers: installed streamreg ls does not list the session" >&2; exit 1; }
streamreg destroy "$name" >/dev/null
if streamreg ls "$name" >/dev/null 2>&1; then
	echo "install_consumers: registry $name still there after destroy" >&2
	exit 1
fi

# The player page and hls.js with its license, found by the installed server
# next to itself (share/streamreg/web), not in the source tree.
web=$work/moved/share/streamreg/web
for f in page/index.html page/player.js page/style.css node_modules/hls.js/dist/hls.min.js \
	node_modules/hls.js/LICENSE; do
	[[ -s $web/$f ]] || { echo "install_consumers: $f not installed in $web" >&2; exit 1; }
done
printf '#EXTM3U\n#EXTINF:-1 tvg-id="5e7a0000-0000-4000-8000-0000000000a2",A\nlavfi:testsrc\n' \
	>"$work/lineup.m3u"
timeout -s TERM 3 streamreg-server --registry "${name}_web" --create --lineup "$work/lineup.m3u" \
	--output-dir "$work/out" --listen 127.0.0.1:0 --workers 1 >"$work/server.log" 2>&1 || true
grep -q "player page from $web\$" "$work/server.log" ||
	{ echo "install_consumers: the installed server does not serve $web:" >&2
	  cat "$work/server.log" >&2; exit 1; }
trap - EXIT
echo "install_consumers: installed streamreg, streamreg-reaper and streamreg-server run from a moved prefix"
