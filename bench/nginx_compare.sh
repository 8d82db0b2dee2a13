#!/usr/bin/env bash
# nginx with ngx_http_streamreg_module against plain nginx (the ceiling), nginx
# with a Lua shared dict doing what nginx users write today (incr a viewer
# count and set the last access, per request), and streamreg-server, under wrk
# on loopback.  The same variant playlist and the same segment on disk for
# all four; interleaved rounds in one run so that load from other processes
# hits all alike; medians reported.  Then perf samples the module's workers
# during a playlist run: the share of their CPU time spent in the module and
# in libstreamreg.  A fifth row, "static", is plain static files from the
# module's own nginx (same processes).  Bounded: ROUNDS x 5 x 2 files x
# SECONDS of wrk.
#
#   bench/nginx_compare.sh [--rounds N] [--seconds S] [--connections C] [--workers W] [--no-perf]
#
# Needs nginx, libnginx-mod-http-lua, wrk, perf (optional) and a build
# (BUILD_DIR, default build).  Results: a Markdown table on stdout.
set -euo pipefail

rounds=3 seconds=5 conns=32 workers=2 do_perf=1
while (($#)); do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--connections) conns=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--no-perf) do_perf=0; shift ;;
	*) echo "usage: $0 [--rounds N] [--seconds S] [--connections C] [--workers W] [--no-perf]" >&2; exit 2 ;;
	esac
done
for v in "$rounds" "$seconds" "$conns" "$workers"; do
	[[ $v =~ ^[0-9]+$ ]] && ((v > 0 && v <= 600)) || { echo "bad number: $v" >&2; exit 2; }
done

cd "$(dirname "$0")/.."
build=$(realpath "${BUILD_DIR:-build}")
cli=$build/tools/streamreg/streamreg
server=$build/tools/server/streamreg-server
module=$build/nginx/ngx_http_streamreg_module.so
lua_dir=/usr/lib/nginx/modules
for f in "$cli" "$server" "$module" /usr/sbin/nginx "$lua_dir/ngx_http_lua_module.so" "$(command -v wrk)"; do
	[[ -e $f ]] || { echo "missing: $f" >&2; exit 1; }
done

work=$(mktemp -d /tmp/sr-nginx-bench.XXXXXX)
reg=srbench_ngx_$$
uuid=5e7a0000-0000-4000-8000-0000000000be
out=$work/out
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	"$cli" destroy "$reg" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# The channel in the reaper's run layout (tools/common/st_run.h): a master
# playlist, a variant playlist of three segments and a 188 kB segment (1 s at
# 1.5 Mbit/s).  The module and the server serve the run named by "current"
# (a playlist joined as docs/server.md, "Restarts", describes); plain nginx and
# Lua serve the same run directory as static files.
run=1764133666123
seg=$run-00043.ts
mkdir -p "$out/$uuid/$run/360p"
printf 'run %s\nstart 41\ndiscontinuity 0\nprevious 0\nprevious-start 0\ntarget 1\nwindow 3\n' "$run" >"$out/$uuid/current"
printf '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=880000,RESOLUTION=640x360\n360p/index.m3u8\n' >"$out/$uuid/$run/master.m3u8"
printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:41\n#EXTINF:1.000000,\n%s-00041.ts\n#EXTINF:1.000000,\n%s-00042.ts\n#EXTINF:1.0,\n%s\n' \
	"$run" "$run" "$seg" >"$out/$uuid/$run/360p/index.m3u8"
head -c 188000 /dev/urandom >"$out/$uuid/$run/360p/$seg"
printf '#EXTM3U\n#EXTINF:-1 tvg-id="%s",Bench\nlavfi:testsrc\n' "$uuid" >"$work/lineup.m3u"
"$cli" create "$reg" >/dev/null
"$cli" add "$reg" "$uuid" >/dev/null
"$cli" state "$reg" "$uuid" starting >/dev/null
"$cli" state "$reg" "$uuid" active >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# nginx_conf NAME PORT EXTRA_MAIN EXTRA_HTTP LOCATION_BODY
nginx_conf() {
	local d=$work/$1
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<EOF
$3
$( ((EUID == 0)) && echo "user root root;")
worker_processes $workers;
error_log $d/error.log warn;
pid $d/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
    $4
    server {
        listen 127.0.0.1:$2;
        location /channels/$uuid/ { $5 }
        location /plain/ { alias $out/$uuid/$run/; }
    }
}
EOF
	/usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" -g "daemon off;" 2>>"$d/error.log" &
	pids+=($!)
	eval "pid_$1=$!"
}

declare -A port
for n in plain lua module server; do port[$n]=$(free_port); done
nginx_conf plain "${port[plain]}" "" "" "alias $out/$uuid/$run/;"
nginx_conf lua "${port[lua]}" "load_module $lua_dir/ndk_http_module.so;
load_module $lua_dir/ngx_http_lua_module.so;" "lua_shared_dict viewers 16m;" \
	"alias $out/$uuid/$run/;
            access_by_lua_block {
                local d = ngx.shared.viewers
                local ch = string.sub(ngx.var.uri, 11, 46)
                d:incr(ch, 1, 0)
                d:set(ch .. ':t', ngx.now())
            }"
nginx_conf module "${port[module]}" "load_module $module;" "streamreg_registry $reg;" \
	"streamreg_hls $out;"
"$server" --registry "$reg" --lineup "$work/lineup.m3u" --output-dir "$out" \
	--listen "127.0.0.1:${port[server]}" --workers "$workers" -q 2>"$work/server.log" &
pids+=($!)
pid_server=$!

for n in plain lua module server; do
	for ((i = 0; i < 100; i++)); do
		curl -fs -m 1 -o /dev/null "http://127.0.0.1:${port[$n]}/channels/$uuid/360p/index.m3u8" && break
		sleep 0.1
	done
	((i < 100)) || { echo "$n did not start" >&2; cat "$work"/*/error.log "$work/server.log" >&2; exit 1; }
done

# The module and the server serve a viewer's URLs (with its token), so every
# request renews a viewer and touches the session; nginx serves them plain.
declare -A base
for n in plain lua; do base[$n]="http://127.0.0.1:${port[$n]}/channels/$uuid/360p"; done
# The same files as plain static files from the module's own nginx (same
# processes, same configuration otherwise): the fairest pair of rows.
base[static]="http://127.0.0.1:${port[module]}/plain/360p"
for n in module server; do
	tok=$(curl -fs "http://127.0.0.1:${port[$n]}/channels/$uuid/master.m3u8" | grep -o 'v/[0-9a-f]*' | head -1)
	[[ -n $tok ]] || { echo "$n gave no viewer token" >&2; exit 1; }
	base[$n]="http://127.0.0.1:${port[$n]}/channels/$uuid/$tok/360p"
done

# CPU time of a server's workers (utime + stime, clock ticks), read around
# each run: CPU per request stays meaningful when other load on the machine
# moves the req/s figures.
worker_ticks() {
	local p t=0
	for p in $(pgrep -P "$1"); do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
hz=$(getconf CLK_TCK)
declare -A master=([plain]=$pid_plain [lua]=$pid_lua [module]=$pid_module [server]=$pid_server
	[static]=$pid_module)

declare -A res cpu
for ((r = 1; r <= rounds; r++)); do
	for f in index.m3u8 "$seg"; do
		# Rotate the order each round.
		order=(plain lua module server static)
		order=("${order[@]:$((r % 5))}" "${order[@]:0:$((r % 5))}")
		for n in "${order[@]}"; do
			t0=$(worker_ticks "${master[$n]}")
			o=$(wrk -t1 -c"$conns" -d"${seconds}s" "${base[$n]}/$f")
			t1=$(worker_ticks "${master[$n]}")
			rps=$(awk '/Requests\/sec/ {print $2}' <<<"$o")
			reqs=$(awk '/requests in/ {print $1}' <<<"$o")
			us=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$reqs" 'BEGIN{printf "%.2f", t / hz * 1e6 / n}')
			cpu[$n,$f]+="$us "
			bad=$(awk '/Non-2xx/ {print $5}' <<<"$o")
			[[ -z $bad ]] || { echo "$n $f: $bad non-2xx answers" >&2; exit 1; }
			res[$n,$f]+="$rps "
			echo "round $r $f $n: $rps req/s, $us us of worker CPU per request" >&2
		done
	done
done

# Two viewers exist, the module's and the server's.  Between its own runs a
# viewer sits idle longer than the viewer timeout and expires; its next
# request revives it.  One request each, then exactly those two must count,
# after hundreds of thousands of renewals through both workers.
for n in module server; do curl -fs -o /dev/null "${base[$n]}/index.m3u8"; done
clients=$("$cli" show "$reg" "$uuid" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["clients"])')
echo "clients after the runs: $clients (want 2)" >&2
((clients == 2)) || { echo "viewer count drifted: $clients" >&2; exit 1; }

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
range() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.1f-%.1fk", lo/1000, hi/1000}'; }

echo
echo "wrk -t1 -c$conns, $rounds rounds of ${seconds}s, $workers workers each, $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| server | playlist req/s (median, range) | vs plain | worker CPU us/req | vs plain | segment req/s (median, range) | vs plain | worker CPU us/req | vs plain |"
echo "|---|---|---|---|---|---|---|---|---|"
for n in plain lua module server static; do
	line="| $n |"
	for f in index.m3u8 "$seg"; do
		m=$(median <<<"${res[$n,$f]}")
		p=$(median <<<"${res[plain,$f]}")
		c=$(median <<<"${cpu[$n,$f]}")
		pc=$(median <<<"${cpu[plain,$f]}")
		line+=" $(printf '%.0f' "$m") ($(range <<<"${res[$n,$f]}")) | $(awk -v m="$m" -v p="$p" 'BEGIN{printf "%+.1f%%", (m/p-1)*100}') |"
		line+=" $c | $(awk -v m="$c" -v p="$pc" 'BEGIN{printf "%+.1f%%", (m/p-1)*100}') |"
	done
	echo "$line"
done

if ((do_perf)) && command -v perf >/dev/null; then
	wpids=$(pgrep -d, -P "$pid_module")
	data=$work/perf.data
	wrk -t1 -c"$conns" -d"$((seconds + 2))s" "${base[module]}/index.m3u8" >/dev/null &
	wp=$!
	sleep 1
	perf record -q -e cpu-clock -F 2999 -o "$data" -p "$wpids" -- sleep "$seconds" >/dev/null 2>&1 || true
	wait "$wp" || true
	rep=$(perf report -i "$data" --stdio --no-children --sort dso -F overhead,dso 2>/dev/null | grep '%' || true)
	mod=$(awk '/ngx_http_streamreg_module/ {gsub("%","",$1); s+=$1} END {printf "%.2f", s}' <<<"$rep")
	lib=$(awk '/libstreamreg/ {gsub("%","",$1); s+=$1} END {printf "%.2f", s}' <<<"$rep")
	echo
	echo "perf (cpu-clock, nginx + module workers, playlist under wrk): module $mod%, libstreamreg $lib% of worker CPU samples"
	echo
	echo "Top objects:"
	head -8 <<<"$rep"
fi
