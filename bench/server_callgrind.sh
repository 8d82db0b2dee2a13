#!/bin/sh
# Instructions a streamreg-server worker spends per master.m3u8 request, in
# total and in the registry's public calls, counted by callgrind (exact
# instruction counts: no timing, so a loaded machine does not change them).
# A real reaper starts the channel; one worker runs under valgrind; N
# requests from one client on one keep-alive connection (the same viewer,
# renewed: the steady state of a player's reloads).
#
#   bench/server_callgrind.sh SERVER REAPER [N]
set -eu
SERVER=$1
REAPER=$2
N=${3:-2000}
d=$(mktemp -d /tmp/srv_callgrind.XXXXXX)
reg=srcg_$$
cid=$(cat /proc/sys/kernel/random/uuid)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '#EXTM3U\n#EXTINF:-1 tvg-id="%s",cg\nlavfi:testsrc=size=160x90:rate=10\n' "$cid" >"$d/lineup.m3u"
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$d" "/dev/shm/$reg"
}
trap cleanup EXIT INT TERM

"$REAPER" --registry "$reg" --lineup "$d/lineup.m3u" --output-dir "$d/out" --create \
	--capacity 64 --ladder 90p:100k --hls-time 1 --hls-list-size 4 --fps 10 \
	--audio-bitrate 32 >"$d/reaper.log" 2>&1 &
pids="$!"
i=0
while [ ! -e "/dev/shm/$reg" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
valgrind -q --tool=callgrind --trace-children=yes --callgrind-out-file="$d/cg.%p" \
	--collect-atstart=no --toggle-collect=http_handle \
	"$SERVER" --registry "$reg" --lineup "$d/lineup.m3u" --output-dir "$d/out" \
	--listen "127.0.0.1:$port" --workers 1 --start-timeout 60 >"$d/server.log" 2>&1 &
pids="$! $pids"
url="http://127.0.0.1:$port/channels/$cid/master.m3u8"
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' -m 60 "$url")" = 200 ]; do
	i=$((i + 1))
	[ $i -lt 60 ] || { echo "channel never became active" >&2; tail "$d/server.log" >&2; exit 1; }
	sleep 1
done
: >"$d/urls"
for _ in $(seq "$N"); do echo "url = \"$url\"" >>"$d/urls"; echo "output = /dev/null" >>"$d/urls"; done
curl -s -K "$d/urls"
kill -TERM "${pids%% *}"
wait "${pids%% *}" || true
# The worker's file is the one with the handler's costs.
f=$(for x in "$d"/cg.*; do
	printf '%s %s\n' "$(callgrind_annotate "$x" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')" "$x"
done | sort -n | tail -1 | cut -d' ' -f2)
[ -z "${CG_OUT:-}" ] || cp "$f" "$CG_OUT" # for callgrind_annotate
echo "requests: $((N + 1)) (the first one, which started the channel, included)"
callgrind_annotate --inclusive=yes --threshold=100 "$f" |
	awk -v n=$((N + 1)) '
	/PROGRAM TOTALS/ { gsub(",", "", $1); printf "all instructions of the handler: %.0f per request\n", $1 / n }
	/\[/ && $(NF - 1) ~ /\.c:(sr_session_|sr_ref_|viewers_)[a-z_]+$/ {
		c = $1; gsub(",", "", c)
		name = $(NF - 1); sub(/.*:/, "", name)
		printf "  %-28s %8.0f per request\n", name, c / n
		if (name !~ /^viewers_/) reg += c
	}
	END { printf "registry public calls: %.0f instructions per request\n", reg / n }'
