#!/usr/bin/env bash
# Import benchmark, side by side in one run on this machine: kiln import of
# the bundled Liechtenstein extract into SQLite and into PostGIS, and the
# classic stack's osm2pgsql 1.8 (openstreetmap-carto 5.7 flags, as
# shared/peers/modtile runs it) into the same throwaway PostgreSQL 15 +
# PostGIS 3 cluster on 127.0.0.1. RUNS runs each, medians of wall time and
# peak RSS (the importing process; PostgreSQL's own memory is not counted).
# Then kiln on synthetic extracts of growing size (SYNTH node counts), to
# show how time, memory and disk grow.
#
# Env: RUNS=5  PBF=data/osm/...  SYNTH="1000000 8000000" (empty: skip)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
RUNS="${RUNS:-5}"
PBF="${PBF:-data/osm/liechtenstein-2013-08-03.osm.pbf}"
SYNTH="${SYNTH-1000000 8000000}"
ensure_go
# openstreetmap-carto-common would offer to download shapefiles: say no.
echo 'openstreetmap-carto-common openstreetmap-carto/fetch-data boolean false' | as_root debconf-set-selections
ensure_apt osm2pgsql openstreetmap-carto-common postgresql-15 postgresql-15-postgis-3 osmium-tool time

work=$(mktemp -d /tmp/kiln-import-bench.XXXXXX)
chmod 755 "$work"
PGBIN=/usr/lib/postgresql/15/bin
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() { pg "$PGBIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
[ "$(id -u)" = 0 ] && chown postgres "$work"
pg "$PGBIN/initdb" -D "$work/pg" -U postgres -A trust >/dev/null
# The peer's tuning (shared/peers/modtile/setup.sh) for both importers.
cat >>"$work/pg/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$work'
shared_buffers = 512MB
work_mem = 64MB
maintenance_work_mem = 512MB
jit = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = 2GB
CONF
pg "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w start >/dev/null
psql_() { psql -X -q -h 127.0.0.1 -p "$port" -U postgres "$@"; }
freshdb() { psql_ -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"; psql_ -d "$1" -c "CREATE EXTENSION postgis; CREATE EXTENSION hstore"; }

go build -o "$work/kiln" ./cmd/kiln
go build -o "$work/kilnbench" ./bench/kilnbench
res() { printf '%-34s %s\n' "$1" "$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # name command... ; records "wall rss_kb"
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err"; exit 1; }
  cat "$work/time" >>"$work/$name.times"
}

echo "== $(basename "$PBF"): $RUNS runs each"
carto=/usr/share/openstreetmap-carto-common
for i in $(seq "$RUNS"); do
  rm -rf "$work/data"
  measure kiln_sqlite "$work/kiln" import --data "$work/data" "$PBF"
  [ "$i" = 1 ] && sed 's/^/  /' "$work/out"
  freshdb kiln
  measure kiln_postgis "$work/kiln" import --data "$work/data-pg" --db "postgres://postgres@127.0.0.1:$port/kiln" "$PBF"
  freshdb gis
  ( cd "$carto" && measure osm2pgsql osm2pgsql --create -G --hstore --style openstreetmap-carto.style \
      --tag-transform-script openstreetmap-carto.lua -d gis -H 127.0.0.1 -P "$port" -U postgres "$OLDPWD/$PBF" )
done
for n in kiln_sqlite kiln_postgis osm2pgsql; do
  res "${n}_wall_s" "median $(awk '{print $1}' "$work/$n.times" | median) (all: $(awk '{print $1}' "$work/$n.times" | sort -n | paste -sd' '))"
  res "${n}_peak_rss_mib" "$(( $(awk '{print $2}' "$work/$n.times" | median) / 1024 ))"
done
k=$(awk '{print $1}' "$work/kiln_sqlite.times" | median)
p=$(awk '{print $1}' "$work/kiln_postgis.times" | median)
o=$(awk '{print $1}' "$work/osm2pgsql.times" | median)
objects=$(sed -n 's/.*: \([0-9]*\) nodes, \([0-9]*\) ways, \([0-9]*\) relations.*/\1 \2 \3/p' "$work/out" 2>/dev/null | awk '{print $1+$2+$3}')
res kiln_sqlite_objects_per_s "$(echo "scale=0; 72967 / $k" | bc) (whole command, 72,967 objects)"
res ratio_sqlite_osm2pgsql "$(echo "scale=3; $k / $o" | bc) (goal: at most 0.5)"
res ratio_postgis_osm2pgsql "$(echo "scale=3; $p / $o" | bc) (goal: at most 1)"
res map_db_size "$(du -h "$work/data/map.db" | cut -f1), middle $(du -ch "$work"/data/*.bin "$work"/data/middle-*.db | tail -1 | cut -f1)"
: "$objects"

for n in $SYNTH; do
  "$work/kilnbench" synth "$n" >"$work/synth.osm"
  osmium cat -f pbf -o "$work/synth.osm.pbf" --overwrite "$work/synth.osm"
  rm -f "$work/synth.osm"
  rm -rf "$work/sdata"
  measure synth "$work/kiln" import --data "$work/sdata" "$work/synth.osm.pbf"
  read -r wall rss <"$work/time"
  res "synth_${n}_nodes" "$(sed 's/^kiln import: //' "$work/out" | cut -d';' -f1); wall ${wall} s, peak RSS $((rss / 1024)) MiB, data dir $(du -sh "$work/sdata" | cut -f1)"
done
