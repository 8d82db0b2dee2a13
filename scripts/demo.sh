#!/usr/bin/env bash
# The streamreg demo: installs what is missing (Debian 12, as root), builds,
# then serves a few lavfi test channels over HLS on 127.0.0.1 with the reaper
# and the pre-fork server (or, with --nginx, Debian's nginx with
# ngx_http_streamreg_module), until Ctrl-C or --duration.  On the way out it
# stops everything and checks that no ffmpeg, no segment directory and no
# registry is left.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: scripts/demo.sh [--duration SECONDS] [--port N] [--workers N] [--nginx] [--no-setup]

  --duration SECONDS  stop by itself after SECONDS (default: run until Ctrl-C)
  --port N            HTTP port on 127.0.0.1 (default 8080)
  --workers N         server worker processes (default 4)
  --nginx             serve with nginx and ngx_http_streamreg_module instead of
                      streamreg-server (docs/nginx.md)
  --no-setup          skip scripts/setup.sh (packages and build already there)

Environment: BUILD_DIR (default build) is where setup.sh builds and where the
binaries are taken from.
USAGE
}

duration=0
port=8080
workers=4
setup=1
use_nginx=0
while (($#)); do
	case $1 in
	--duration) duration=${2:?--duration needs SECONDS}; shift 2 ;;
	--port) port=${2:?--port needs N}; shift 2 ;;
	--workers) workers=${2:?--workers needs N}; shift 2 ;;
	--no-setup) setup=0; shift ;;
	--nginx) use_nginx=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "demo: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
[[ $duration =~ ^[0-9]+$ ]] || { echo "demo: --duration wants whole seconds" >&2; exit 2; }
[[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || { echo "demo: bad --port" >&2; exit 2; }

cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD_DIR:-build}
if ((setup)); then
	echo "demo: installing missing packages and building (scripts/setup.sh)..."
	bash scripts/setup.sh
fi
reaper_bin=$build/tools/reaper/streamreg-reaper
server_bin=$build/tools/server/streamreg-server
cli_bin=$build/tools/streamreg/streamreg
ngx_module=$(realpath -m "$build/nginx/ngx_http_streamreg_module.so")
if ((use_nginx)); then
	server_bin=/usr/sbin/nginx
	[[ -f $ngx_module ]] || { echo "demo: $ngx_module is missing; install nginx-dev and run scripts/setup.sh" >&2; exit 1; }
fi
for b in "$reaper_bin" "$server_bin" "$cli_bin"; do
	[[ -x $b ]] || { echo "demo: $b is missing; run scripts/setup.sh" >&2; exit 1; }
done
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
	echo "demo: port $port is already in use; pick another with --port" >&2
	exit 1
fi

name=streamreg_demo_$$
work=$(mktemp -d /tmp/streamreg-demo.XXXXXX)
out=$work/hls
lineup=$work/lineup.m3u
# Fixed ids, so the URLs stay the same from one run to the next.
ids=(5e7a0000-0000-4000-8000-000000000001 5e7a0000-0000-4000-8000-000000000002
	5e7a0000-0000-4000-8000-000000000003)
names=("Test pattern" "SMPTE bars" "Game of life")
inputs=("lavfi:testsrc2=size=640x360:rate=25"
	"lavfi:smptehdbars=size=640x360:rate=25"
	"lavfi:life=size=320x180:rate=25:mold=10:ratio=0.1:death_color=#203040:life_color=#40c040")
{
	echo "#EXTM3U"
	for i in "${!ids[@]}"; do
		echo "#EXTINF:-1 tvg-id=\"${ids[i]}\" tvg-name=\"${names[i]}\",${names[i]}"
		echo "${inputs[i]}"
	done
} >"$lineup"

reaper_pid=
server_pid=
server_name=streamreg-server
stopping=0
status=0

ffmpeg_left() {
	# ffmpeg processes working in the demo's output directory.
	local p n=0
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/cwd" 2>/dev/null) == "$out"* ]] && n=$((n + 1))
	done
	echo "$n"
}

stop_pid() { # pid what
	local pid=$1 i
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "demo: $2 ignored SIGTERM for 10 s: SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null || true
		status=1
	fi
	wait "$pid" 2>/dev/null || true
}

shutdown() {
	((stopping)) && return
	stopping=1
	trap '' INT TERM
	echo
	echo "demo: stopping the server, then the reaper..."
	stop_pid "$server_pid" "$server_name"
	stop_pid "$reaper_pid" "streamreg-reaper"
	local left dirs
	left=$(ffmpeg_left)
	dirs=$(find "$out" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
	if [[ -e /dev/shm/$name ]]; then
		"$cli_bin" destroy "$name" >/dev/null || status=1
	fi
	if ((left)); then
		echo "demo: PROBLEM: $left ffmpeg process(es) left" >&2
		status=1
	fi
	if ((dirs)); then
		echo "demo: PROBLEM: $dirs segment director(y/ies) left in $out" >&2
		status=1
	fi
	if ((status == 0)); then
		rm -rf "$work"
		echo "demo: stopped cleanly: no ffmpeg left, no segment directory left, registry '$name' destroyed."
	else
		echo "demo: logs kept in $work" >&2
	fi
}
trap 'shutdown; exit $status' EXIT
trap 'exit' INT TERM

"$reaper_bin" --registry "$name" --lineup "$lineup" --output-dir "$out" --create \
	--capacity 64 --idle-grace 20 2>"$work/reaper.log" &
reaper_pid=$!
for ((i = 0; i < 100; i++)); do
	[[ -e /dev/shm/$name ]] && break
	kill -0 "$reaper_pid" 2>/dev/null || break
	sleep 0.1
done
if [[ ! -e /dev/shm/$name ]]; then
	echo "demo: the reaper did not start:" >&2
	tail -5 "$work/reaper.log" >&2
	status=1
	exit 1
fi
health=/healthz
if ((use_nginx)); then
	# The module, the player page and hls.js from the source tree; nginx's
	# SIGTERM is a fast shutdown, which stop_pid sends.
	server_name=nginx
	health=/api/sessions
	ngx=$work/nginx
	mkdir -p "$ngx" "$out"
	cat >"$ngx/nginx.conf" <<EOC
load_module $ngx_module;
$( ((EUID == 0)) && echo "user root root;  # the reaper's registry is root's (mode 0600)")
worker_processes $workers;
error_log $work/server.log notice;
pid $ngx/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $ngx/body;
    proxy_temp_path $ngx/proxy;
    fastcgi_temp_path $ngx/fastcgi;
    uwsgi_temp_path $ngx/uwsgi;
    scgi_temp_path $ngx/scgi;
    sendfile on;
    tcp_nopush on;
    streamreg_registry $name;
    streamreg_lineup $lineup;
    server {
        listen 127.0.0.1:$port;
        location /channels { streamreg_hls $out; }
        location = /api/sessions { streamreg_status json; }
        location = /metrics { streamreg_status prometheus; }
        location = / { root $root/web/page; try_files /index.html =404; }
        location = /static/hls.min.js { alias $root/web/node_modules/hls.js/dist/hls.min.js; }
        location = /static/hls.js-LICENSE.txt { alias $root/web/node_modules/hls.js/LICENSE; }
        location /static/ { alias $root/web/page/; }
    }
}
EOC
	"$server_bin" -p "$ngx" -c "$ngx/nginx.conf" -e "$work/server.log" -g "daemon off;" \
		2>>"$work/server.log" &
else
	"$server_bin" --registry "$name" --lineup "$lineup" --output-dir "$out" \
		--listen "127.0.0.1:$port" --workers "$workers" 2>"$work/server.log" &
fi
server_pid=$!
up=0
for ((i = 0; i < 100; i++)); do
	if curl -fs -m 1 "http://127.0.0.1:$port$health" >/dev/null 2>&1; then
		up=1
		break
	fi
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.1
done
if ((!up)); then
	echo "demo: the server did not start:" >&2
	tail -5 "$work/server.log" >&2
	status=1
	exit 1
fi

base=http://127.0.0.1:$port
cat <<EOT

streamreg demo: reaper pid $reaper_pid, $server_name pid $server_pid ($workers workers), registry '$name'

Watch in a browser:  $base/
  (the channels, a player with the server's own hls.js, and the live sessions)

Or open a channel in VLC, ffplay or Safari (a transcoder starts on the first
request and stops $((20 + 10))-odd seconds after the last viewer leaves):
EOT
for i in "${!ids[@]}"; do
	printf '  %-14s %s/channels/%s/master.m3u8\n' "${names[i]}" "$base" "${ids[i]}"
done
cat <<EOT

  e.g.  ffplay $base/channels/${ids[0]}/master.m3u8
        vlc $base/channels/${ids[1]}/master.m3u8

JSON and metrics:  $base/channels   $base/api/sessions   $base/metrics
Watch it live: $build/tools/streamreg/streamreg top $name
Logs:          $work/server.log  $work/reaper.log

EOT
if ((duration > 0)); then
	echo "Running for $duration s (Ctrl-C stops earlier)."
	sleep "$duration" &
	wait $! || true
else
	echo "Press Ctrl-C to stop."
	while kill -0 "$server_pid" 2>/dev/null && kill -0 "$reaper_pid" 2>/dev/null; do
		sleep 1 &
		wait $! || true
	done
	echo "demo: a process exited by itself; see the logs" >&2
	status=1
fi
exit 0
