#!/usr/bin/env bash
# Cached-tile serving benchmark, side by side in one run on this machine:
#   kiln serve (default configuration, access log on) serving its metatile cache,
#   a plain Go static file server (http.FileServer) serving the same tiles as z/x/y.png files,
#   Apache + mod_tile (Debian's packages) serving the very same metatile cache.
# Tiles: kiln's debug style over the Liechtenstein bbox, z0-16 (as the mod_tile peer's bench).
# Load: wrk -t2 -c32, a random tile of the list per request; ROUNDS rounds, servers
# alternating, medians reported. Prints one "name value" line per figure.
#
# Env: BBOX=W,S,E,N MINZ=0 MAXZ=16 DURATION=10s CONNS=32 THREADS=2 ROUNDS=3
#      MODTILE=0 to leave Apache out; PEER=1 adds the peer stack that
#      shared/peers/modtile/setup.sh brings up on 127.0.0.1:8808/osm/ (carto tiles: other
#      sizes; run its bench.sh first so that they are all rendered).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
BBOX="${BBOX:-9.471078,47.04774,9.636217,47.27128}"
MINZ="${MINZ:-0}"; MAXZ="${MAXZ:-16}"
DURATION="${DURATION:-10s}"; CONNS="${CONNS:-32}"; THREADS="${THREADS:-2}"; ROUNDS="${ROUNDS:-3}"
MODTILE="${MODTILE:-1}"

ensure_go
ensure_apt wrk
[ "$MODTILE" = 1 ] && ensure_apt apache2 libapache2-mod-tile

work=$(mktemp -d /tmp/kiln-bench.XXXXXX)
chmod 755 "$work"   # Apache's worker user reads the cache
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [ -f "$work/apache.pid" ] && kill "$(cat "$work/apache.pid")" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
res() { printf '%-28s %s\n' "$1" "$2"; }

go build -o "$work/kiln" ./cmd/kiln
go build -o "$work/kilnbench" ./bench/kilnbench
echo "== seeding: kiln render --style debug --bbox $BBOX --zoom $MINZ-$MAXZ"
"$work/kiln" render --data "$work/data" --style debug --bbox "$BBOX" --zoom "$MINZ-$MAXZ" 2>/dev/null | tee "$work/render.txt"
"$work/kilnbench" tiles "$BBOX" "$MINZ" "$MAXZ" >"$work/tiles.txt"
"$work/kilnbench" unpack "$work/data/tiles" debug "$work/static" 2>/dev/null
res tiles_in_list "$(wc -l <"$work/tiles.txt")"
res tile_bytes_mean "$(find "$work/static" -name '*.png' -printf '%s\n' | awk '{s+=$1} END {printf "%.0f", s/NR}')"

kport=$(free_port); sport=$(free_port); aport=$(free_port)
"$work/kiln" serve --data "$work/data" --listen "127.0.0.1:$kport" 2>"$work/kiln.log" &
pids+=($!)
"$work/kilnbench" fileserver "$work/static" "127.0.0.1:$sport" &
pids+=($!)
targets=("kiln http://127.0.0.1:$kport /styles/debug/" "static http://127.0.0.1:$sport /")

if [ "$MODTILE" = 1 ]; then
  mkdir -p "$work/www" && chmod 755 "$work/data" "$work/data/tiles"
  cat >"$work/apache.conf" <<CONF
ServerRoot /etc/apache2
ServerName localhost
Listen 127.0.0.1:$aport
PidFile $work/apache.pid
ErrorLog $work/apache-error.log
LogFormat "%h %l %u %t \"%r\" %>s %O" common
CustomLog $work/apache-access.log common
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule tile_module /usr/lib/apache2/modules/mod_tile.so
# Debian's mpm_event.conf
StartServers 2
MinSpareThreads 25
MaxSpareThreads 75
ThreadLimit 64
ThreadsPerChild 25
MaxRequestWorkers 150
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot $work/www
<VirtualHost 127.0.0.1:$aport>
  # before AddTileConfig, which takes the tile directory set at that point
  ModTileTileDir $work/data/tiles
  AddTileConfig /debug/ debug
  ModTileRenderdSocketName $work/no-renderd.sock
  ModTileRequestTimeout 0
  ModTileMissingRequestTimeout 0
  ModTileEnableStats On
</VirtualHost>
CONF
  /usr/sbin/apache2 -f "$work/apache.conf" -k start
  targets+=("mod_tile http://127.0.0.1:$aport /debug/")
fi
[ "${PEER:-0}" = 1 ] && targets+=("peer http://127.0.0.1:8808 /osm/")

for t in "${targets[@]}"; do
  read -r name base prefix <<<"$t"
  wait_http "$base$prefix$MINZ/0/0.png" || { [ "$name" = mod_tile ] && tail -5 "$work/apache-error.log"; exit 1; }
done

echo "== wrk -t$THREADS -c$CONNS -d$DURATION, random tile of $(wc -l <"$work/tiles.txt"), $ROUNDS rounds"
for round in $(seq "$ROUNDS"); do
  for t in "${targets[@]}"; do
    read -r name base prefix <<<"$t"
    [ "$round" = 1 ] && TILELIST="$work/tiles.txt" TILEPREFIX="$prefix" wrk -t"$THREADS" -c"$CONNS" -d2s -s bench/wrk-random-tiles.lua "$base" >/dev/null
    line=$(TILELIST="$work/tiles.txt" TILEPREFIX="$prefix" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s bench/wrk-random-tiles.lua "$base" | grep '^RESULT')
    echo "  round $round $name: ${line#RESULT }"
    echo "$name ${line#RESULT }" >>"$work/results.txt"
  done
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { grep "^$1 " "$work/results.txt" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
echo "== medians"
for t in "${targets[@]}"; do
  read -r name _ _ <<<"$t"
  res "${name}_rps" "$(field "$name" rps | median)"
  res "${name}_p50_ms" "$(field "$name" p50_ms | median)"
  res "${name}_p99_ms" "$(field "$name" p99_ms | median)"
  res "${name}_non200_errors" "$(( $(field "$name" non200 | paste -sd+ | bc) + $(field "$name" errors | paste -sd+ | bc) ))"
done
k=$(field kiln rps | median); s=$(field static rps | median)
res ratio_kiln_static "$(echo "scale=3; $k / $s" | bc) (goal: at least 0.8)"
if [ "$MODTILE" = 1 ]; then
  m=$(field mod_tile rps | median)
  res ratio_kiln_mod_tile "$(echo "scale=3; $k / $m" | bc)"
fi
