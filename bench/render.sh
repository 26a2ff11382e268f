#!/usr/bin/env bash
# Map rendering benchmark, side by side in one run on this machine:
#   kiln: bulk render (kiln render --threads 2) of the Liechtenstein bbox at
#   z0-16 with the built-in default style, ROUNDS rounds, medians; CPU-seconds
#   per metatile and peak RSS of the process; cold on-demand latency over HTTP
#   (kiln serve, empty cache, 5 tiles at each of z12, z14, z16, each in its own
#   metatile, picked as the peer's bench.sh picks them).
#   peer (PEER=1, the default when renderd runs): the classic stack that
#   shared/peers/modtile/setup.sh brings up (renderd + Mapnik +
#   openstreetmap-carto, Apache mod_tile on :8808): the same bulk render
#   through render_list -n 2, one request per metatile, renderd's and
#   PostgreSQL's CPU-seconds and renderd's peak RSS, and the same cold tiles.
# Tiles are counted as the tiles inside the rendered metatiles (64 per full
# metatile), as render_list and kiln render count them.
#
# Env: BBOX=W,S,E,N MINZ=0 MAXZ=16 ROUNDS=3 PEER=0|1 PEER_PORT=8808
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
BBOX="${BBOX:-9.471078,47.04774,9.636217,47.27128}"
MINZ="${MINZ:-0}"; MAXZ="${MAXZ:-16}"; ROUNDS="${ROUNDS:-3}"
PEER_PORT="${PEER_PORT:-8808}"
PEER_SOCK=/run/renderd/renderd.sock
PEER_TILES=/var/cache/renderd/tiles/default
if [ -z "${PEER:-}" ]; then PEER=0; [ -S "$PEER_SOCK" ] && pgrep -x renderd >/dev/null && PEER=1; fi

ensure_go
ensure_apt time curl python3
work=$(mktemp -d /tmp/kiln-render-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
res() { printf '%-34s %s\n' "$1" "$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TCK=$(getconf CLK_TCK)
# CPU-seconds (user+sys) of a process and its reaped children.
cpu_of() { awk -v t="$TCK" '{printf "%.2f", ($14+$15+$16+$17)/t}' "/proc/$1/stat"; }

go build -o "$work/kiln" ./cmd/kiln
go build -o "$work/kilnbench" ./bench/kilnbench
"$work/kiln" import --data "$work/data" data/osm/liechtenstein-2013-08-03.osm.pbf 2>/dev/null

# The cold tiles: 5 per zoom, each in another metatile, spread over the bbox.
"$work/kilnbench" tiles "$BBOX" 12 16 | python3 -c '
import sys, collections
by = collections.defaultdict(list)
for l in sys.stdin:
    z, x, y = map(int, l.split()[:3]); by[z].append((x, y))
for z in (12, 14, 16):
    seen, picked, t = set(), [], by[z]
    for i in range(len(t)):
        x, y = t[(i * 7919) % len(t)]
        if (x >> 3, y >> 3) in seen: continue
        seen.add((x >> 3, y >> 3)); picked.append((x, y))
        if len(picked) == 5: break
    for x, y in picked: print(z, x, y)' >"$work/cold.txt"

echo "== kiln: bulk render z$MINZ-$MAXZ of $BBOX, --threads 2, $ROUNDS rounds"
for round in $(seq "$ROUNDS"); do
  rm -rf "$work/data/tiles/default"
  /usr/bin/time -f 'TIME %e %U %S %M' "$work/kiln" render --data "$work/data" --style default \
    --bbox "$BBOX" --zoom "$MINZ-$MAXZ" --threads 2 >"$work/render.out" 2>"$work/render.err"
  line=$(grep '^kiln render' "$work/render.out")
  read -r _ wall user sys rss < <(grep '^TIME' "$work/render.err")
  tiles=$(sed -n 's/.*: \([0-9]*\) tiles in \([0-9]*\) metatiles.*/\1/p' <<<"$line")
  metas=$(sed -n 's/.*: \([0-9]*\) tiles in \([0-9]*\) metatiles.*/\2/p' <<<"$line")
  tps=$(sed -n 's/.*= \([0-9.]*\) tiles\/s.*/\1/p' <<<"$line")
  echo "  round $round: $line; CPU $(echo "$user + $sys" | bc) s, peak RSS $((rss / 1024)) MiB"
  echo "$tps $(echo "($user + $sys) / $metas" | bc -l) $((rss / 1024)) $tiles $metas" >>"$work/kiln-bulk.txt"
done
k_tps=$(cut -d' ' -f1 "$work/kiln-bulk.txt" | median)
res kiln_bulk_tiles_per_s "$k_tps (median; $(head -1 "$work/kiln-bulk.txt" | cut -d' ' -f4) tiles in $(head -1 "$work/kiln-bulk.txt" | cut -d' ' -f5) metatiles)"
res kiln_bulk_cpu_s_per_metatile "$(cut -d' ' -f2 "$work/kiln-bulk.txt" | median | xargs printf '%.3f')"
res kiln_bulk_peak_rss_mib "$(cut -d' ' -f3 "$work/kiln-bulk.txt" | sort -n | tail -1) (whole process, max of the rounds)"

echo "== kiln: cold on-demand latency (empty cache, kiln serve)"
rm -rf "$work/data/tiles/default"
port=$(free_port)
"$work/kiln" serve --data "$work/data" --listen "127.0.0.1:$port" 2>"$work/serve.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
curl -s -o /dev/null "http://127.0.0.1:$port/styles/default/0/0/0.png" # warm-up, not measured
cold() { # base prefix name
  while read -r z x y; do
    t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$1$2$z/$x/$y.png")
    echo "$z $t" >>"$work/cold-$3.txt"
    printf '  %-6s %-18s %s\n' "$3" "$z/$x/$y" "$t"
  done <"$work/cold.txt"
}
cold "http://127.0.0.1:$port" /styles/default/ kiln
for z in 12 14 16; do
  res "kiln_cold_z${z}_s" "median $(awk -v z=$z '$1==z{print $3}' "$work/cold-kiln.txt" | median) (n=$(awk -v z=$z '$1==z' "$work/cold-kiln.txt" | wc -l), all $(awk -v z=$z '$1==z{print $2}' "$work/cold-kiln.txt" | sort -u | paste -sd,))"
done

[ "$PEER" = 1 ] || { echo "(no peer: PEER=1 with shared/peers/modtile/setup.sh's stack running adds it)"; exit 0; }
echo "== peer: renderd + Mapnik + openstreetmap-carto, render_list -n 2 z$MINZ-$MAXZ, one round"
rpid=$(cat /run/renderd/renderd.pid)
pgpid=$(head -1 /var/lib/postgresql/15/modtile/postmaster.pid)
as_root rm -rf "$PEER_TILES"
echo 5 | as_root tee "/proc/$rpid/clear_refs" >/dev/null # reset renderd's peak RSS
r0=$(cpu_of "$rpid"); p0=$(cpu_of "$pgpid")
"$work/kilnbench" tiles "$BBOX" "$MINZ" "$MAXZ" >"$work/all-tiles.txt"
start=$(date +%s.%N); p_tiles=0; p_metas=0
for z in $(seq "$MINZ" "$MAXZ"); do
  read -r x0 x1 y0 y1 < <(awk -v z="$z" '$1==z {x=$2-$2%8; y=$3-$3%8; if(n++==0){a=x;b=x;c=y;d=y} if(x<a)a=x; if(x>b)b=x; if(y<c)c=y; if(y>d)d=y} END {print a, b, c, d}' "$work/all-tiles.txt")
  render_list -a -m default -s "$PEER_SOCK" -n 2 -l 1000 -z "$z" -Z "$z" -x "$x0" -X "$x1" -y "$y0" -Y "$y1" >"$work/render_list-$z.log" 2>&1
  n=$(sed -n 's/^Meta tiles rendered: Rendered \([0-9]*\) tiles.*/\1/p' "$work/render_list-$z.log" | tail -1)
  side=$(( z < 3 ? (1 << z) : 8 ))
  p_metas=$((p_metas + n)); p_tiles=$((p_tiles + n * side * side))
done
p_wall=$(echo "$(date +%s.%N) - $start" | bc)
p_cpu=$(echo "$(cpu_of "$rpid") - $r0 + $(cpu_of "$pgpid") - $p0" | bc)
p_tps=$(echo "$p_tiles / $p_wall" | bc -l)
res peer_bulk_tiles_per_s "$(printf '%.1f' "$p_tps") ($p_tiles tiles in $p_metas metatiles in $(printf '%.1f' "$p_wall") s)"
res peer_bulk_cpu_s_per_metatile "$(echo "$p_cpu / $p_metas" | bc -l | xargs printf '%.3f') (renderd + PostgreSQL)"
res peer_renderd_peak_rss_mib "$(awk '/^VmHWM/{printf "%.0f", $2/1024}' "/proc/$rpid/status")"
res ratio_bulk_kiln_peer "$(echo "$k_tps / $p_tps" | bc -l | xargs printf '%.2f') (goal: at least 3)"

echo "== peer: cold on-demand latency (empty cache, Apache mod_tile + renderd)"
as_root rm -rf "$PEER_TILES"
curl -s -o /dev/null "http://127.0.0.1:$PEER_PORT/osm/0/0/0.png"
cold "http://127.0.0.1:$PEER_PORT" /osm/ peer
for z in 12 14 16; do
  k=$(awk -v z=$z '$1==z{print $3}' "$work/cold-kiln.txt" | median)
  p=$(awk -v z=$z '$1==z{print $3}' "$work/cold-peer.txt" | median)
  res "peer_cold_z${z}_s" "median $p (kiln $k, $(echo "$p / $k" | bc -l | xargs printf '%.1f')x faster)"
done
