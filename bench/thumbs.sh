#!/bin/sh
# Page thumbnail benchmark, side by side in one run on this machine, over the
# saved real pages of ../shared/data/pages (PAGES=DIR), served on 127.0.0.1:
#   kiln: kiln serve, a fresh data dir per run ([thumbnails] pages = C,
#   timeout = "15s" like the peer, allow = ["127.0.0.1/32"]), the pages
#   asked for as GET /thumbnail?url=…&size=large with C requests in flight
#   (bench/thumbdrive), after one warm-up page that is not counted (the
#   peer warms up the same way); then the same thumbnails again from the
#   cache (CACHED_N requests, CACHED_C in flight).
#   peer (PEER=1): shared/peers/thumbs/bench.sh, puppeteer-core driving the
#   same Chromium (fresh incognito context per page, viewport 1024x768,
#   goto 'load' 15 s, sharp resize to 201x147), one run per C.
# Each run: pages/s (all pages / wall time, failures included, as the peer
# counts), p50/p95 latency (nearest rank, failures included), CPU-seconds per
# page and peak memory (PSS summed over the process tree, every 200 ms).
# CPU: utime+stime+cutime+cstime of the live processes of the tree (kiln +
# Chromium; the peer: Chromium, plus node's own), end minus start of the run,
# the peer's method: processes reaped inside the tree are counted.
#
# Env: PEER=1|0  CONCS="1 4"  LIMIT=0 (pages; 0 = all)
#      ROUNDS=5 (kiln and the peer alternate round by round; the medians are
#        the figures: one round's ratio swings by a fifth on a shared machine;
#        the goal is met when the ratio of the medians and the median of the
#        rounds' own ratios both reach it)
#      PORT=8094 (kiln)  PAGES_PORT=8089  OUT=/tmp/kiln-bench-thumbs
#      PAGES=../shared/data/pages  PEER_DIR=../shared/peers/thumbs
#      CACHED_N=500 CACHED_C=1  CLI=0|1 (also kiln thumb, the CLI, per C)
#      KILN_DNS=system|fastfail  PEER_DNS=fastfail|system (the peer's DNS knob)
#      KILN_FLAGS="" (extra Chromium flags for kiln: [thumbnails] chromium_flags)
#      KILN_CHROMIUM="" (kiln's browser: [thumbnails] chromium; "": kiln's default)
#      KILN_PAGES="" (kiln's [thumbnails] pages, the pages it loads at once; "": C,
#        as the peer; the client keeps C requests in flight either way)
# DNS: the pages name ~200 outside hosts, which do not resolve here. The peer
# by default maps every host but 127.0.0.1 to NOTFOUND inside Chromium
# (--fastfail-dns). kiln resolves every host itself in its page proxy, through
# the system resolver: KILN_DNS=system (the default) measures that as users
# run it; KILN_DNS=fastfail runs kiln serve in a mount namespace of its own
# whose /etc/resolv.conf points at a local responder that answers NXDOMAIN at
# once (needs root and unshare), the counterpart of the peer's flag.
set -eu
cd "$(dirname "$0")/.."
PEER="${PEER:-1}"; CONCS="${CONCS:-1 4}"; ROUNDS="${ROUNDS:-5}"; LIMIT="${LIMIT:-0}"
PORT="${PORT:-8094}"; PAGES_PORT="${PAGES_PORT:-8089}"; OUT="${OUT:-/tmp/kiln-bench-thumbs}"
PAGES="${PAGES:-../shared/data/pages}"; PEER_DIR="${PEER_DIR:-../shared/peers/thumbs}"
CACHED_N="${CACHED_N:-500}"; CACHED_C="${CACHED_C:-1}"; CLI="${CLI:-0}"
KILN_DNS="${KILN_DNS:-system}"; PEER_DNS="${PEER_DNS:-fastfail}"; KILN_FLAGS="${KILN_FLAGS:-}"
KILN_CHROMIUM="${KILN_CHROMIUM:-}"
# toml_flags: KILN_FLAGS as a TOML array
toml_flags() { printf '['; sep=; for f in $KILN_FLAGS; do printf '%s"%s"' "$sep" "$f"; sep=', '; done; printf ']'; }

if ! ls "$PAGES"/*.html >/dev/null 2>&1; then
  echo "thumbs.sh: no saved pages at $PAGES (PAGES=DIR of .html pages): nothing to measure"
  exit 0
fi
PAGES=$(cd "$PAGES" && pwd)
command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "thumbs.sh: needs Go (scripts/lib.sh's ensure_go fetches it)" >&2; exit 1; }
for t in python3 curl /usr/bin/chromium; do
  command -v "$t" >/dev/null || { echo "thumbs.sh: needs $t (apt-get install -y chromium fonts-noto-core curl python3)" >&2; exit 1; }
done
if [ "$PEER" = 1 ] && { [ ! -x "$PEER_DIR/bench.sh" ] || ! command -v node >/dev/null; }; then
  echo "thumbs.sh: no peer ($PEER_DIR/bench.sh and node needed): kiln only"
  PEER=0
fi

mkdir -p "$OUT"
rm -f "$OUT"/*.row "$OUT"/peer-c*.json "$OUT"/cached-r*.json   # leftovers of an earlier run
PAGE_SERVER=; KILN_PID=; NXDNS=
cleanup() {
  [ -n "$KILN_PID" ] && kill "$KILN_PID" 2>/dev/null && wait "$KILN_PID" 2>/dev/null
  [ -n "$PAGE_SERVER" ] && kill "$PAGE_SERVER" 2>/dev/null
  [ -n "$NXDNS" ] && kill "$NXDNS" 2>/dev/null
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$OUT/kiln" ./cmd/kiln
go build -o "$OUT/thumbdrive" ./bench/thumbdrive

# The pages, sorted as the peer sorts them, and served on 127.0.0.1.
LC_ALL=C ls "$PAGES" | grep '\.html$' >"$OUT/pages.txt"
[ "$LIMIT" -gt 0 ] && head -n "$LIMIT" "$OUT/pages.txt" >"$OUT/pages.tmp" && mv "$OUT/pages.tmp" "$OUT/pages.txt"
FIRST=$(head -1 "$OUT/pages.txt")
BASE="http://127.0.0.1:$PAGES_PORT/"
sed "s|^|$BASE|" "$OUT/pages.txt" >"$OUT/urls.txt"
if curl -fsS -o /dev/null "$BASE$FIRST" 2>/dev/null; then
  echo "# pages: something already serves $BASE$FIRST; using it"
else
  python3 -m http.server "$PAGES_PORT" --bind 127.0.0.1 --directory "$PAGES" >"$OUT/pages-server.log" 2>&1 &
  PAGE_SERVER=$!
  for _ in $(seq 50); do curl -fsS -o /dev/null "$BASE$FIRST" 2>/dev/null && break; sleep 0.1; done
fi
if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null; then
  echo "thumbs.sh: port $PORT is taken (PORT=N for kiln)" >&2; exit 1
fi
if [ "$KILN_DNS" = fastfail ]; then
  if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
    echo "thumbs.sh: KILN_DNS=fastfail needs root and unshare" >&2; exit 1
  fi
  # Every query answered NXDOMAIN at once, on 127.0.53.53:53.
  cat >"$OUT/nxdns.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
while True:
    q, addr = s.recvfrom(4096)
    if len(q) < 12:
        continue
    end = 12
    while end < len(q) and q[end] != 0:
        end += q[end] + 1
    flags = 0x8000 | (q[2] << 8 & 0x7900) | 0x0080 | 3  # QR, opcode+RD copied, RA, NXDOMAIN
    s.sendto(q[:2] + flags.to_bytes(2, 'big') + b'\x00\x01\x00\x00\x00\x00\x00\x00' + q[12:end + 5], addr)
PY
  python3 "$OUT/nxdns.py" 127.0.53.53 2>"$OUT/nxdns.log" &
  NXDNS=$!
  echo "nameserver 127.0.53.53" >"$OUT/resolv-fastfail.conf"
fi
if [ "$PEER" = 1 ] && [ "$(cd "$PEER_DIR/../../data/pages" 2>/dev/null && pwd)" != "$PAGES" ]; then
  echo "# note: the peer reads its page list from $PEER_DIR/../../data/pages, not $PAGES"
fi

# kiln's browser: KILN_CHROMIUM, else kiln's default (the headless shell
# where it is installed); the peer's: /usr/bin/chromium.
KILN_BROWSER="${KILN_CHROMIUM:-$([ -x /usr/bin/chromium-headless-shell ] && echo /usr/bin/chromium-headless-shell || echo /usr/bin/chromium)}"
echo "# $(date -u +%FT%TZ) $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg), $(/usr/bin/chromium --version 2>/dev/null), kiln $("$OUT/kiln" version 2>/dev/null | head -1) with $KILN_BROWSER"
echo "# pages: $(wc -l <"$OUT/pages.txt") saved pages from $PAGES on $BASE; kiln on 127.0.0.1:$PORT, DNS $KILN_DNS${KILN_FLAGS:+, Chromium flags $KILN_FLAGS}${KILN_PAGES:+, [thumbnails] pages = $KILN_PAGES}; peer: $([ "$PEER" = 1 ] && echo "$PEER_DIR/bench.sh, DNS $PEER_DNS" || echo none); CONCS=\"$CONCS\" ROUNDS=$ROUNDS"

# line NAME JSON-FILE ROW-FILE: one result line of a kiln or peer summary;
# ROW-FILE gets "pages/s p50 p95 cpu/page peak-pss" for the medians.
line() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
name, f = sys.argv[1], sys.argv[2]
s = json.loads(open(f).read().strip().splitlines()[-1])
if 'pagesPerS' in s:  # the peer
    pps, p50, p95, n, ok = s['pagesPerS'], s['p50Ms'], s['p95Ms'], s['pages'], s['ok']
    cpu = s['chromiumCpuSPerPage'] + s['nodeCpuSPerPage']
    cpux = f" (Chromium {s['chromiumCpuSPerPage']:.2f} + node {s['nodeCpuSPerPage']:.2f})"
    pss, rss, procs, wall = s['peakMiB']['pss'], s['peakMiB']['rss'], s['peakMiB']['procs'], s['wallS']
    extra = f", nav timeouts {len(s['navTimeouts'])}, blank {len(s['blank'])}"
    load = (s['loadavgStart'].split()[0], s['loadavgEnd'].split()[0])
else:
    pps, p50, p95, n, ok = s['pages_per_s'], s['p50_ms'], s['p95_ms'], s['pages'], s['ok']
    cpu = s['cpu_s_per_page']
    cpux = f" (kiln {s.get('root_cpu_s_per_page', 0):.2f} + Chromium {cpu - s.get('root_cpu_s_per_page', 0):.2f})"
    pss, rss, procs, wall = s['peak_mib']['pss'], s['peak_mib']['rss'], s['peak_mib']['procs'], s['seconds']
    extra = f", blank {len(s['blank'] or [])}"
    load = (s['loadavg_start'].split()[0], s['loadavg_end'].split()[0])
print(f"{name:<10} pages/s {pps:6.3f}  p50 {p50/1000:5.2f} s  p95 {p95/1000:5.2f} s  ok {ok}/{n}  "
      f"CPU-s/page {cpu:5.2f}{cpux}  peak PSS {pss:4.0f} MiB (RSS {rss:.0f}, {procs} procs)  wall {wall:.1f} s{extra}, load {load[0]}->{load[1]}")
with open(sys.argv[3], 'w') as o:
    print(pps, p50, p95, cpu, pss, file=o)
PY
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
col() { cat "$OUT"/$1 2>/dev/null | cut -d' ' -f"$2" | median; }   # col GLOB FIELD: median over rounds
maxc=$(for c in $CONCS; do echo "$c"; done | sort -n | tail -1)

# kiln_start DIR C: a kiln serve with an empty data dir, pages = C (or KILN_PAGES).
kiln_start() {
  rm -rf "$1" && mkdir -p "$1"
  cat >"$1/kiln.toml" <<EOF
data = "$1/data"
[thumbnails]
allow = ["127.0.0.1/32"]
pages = ${KILN_PAGES:-$2}
timeout = "15s"
chromium_flags = $(toml_flags)
${KILN_CHROMIUM:+chromium = \"$KILN_CHROMIUM\"}
EOF
  if [ "$KILN_DNS" = fastfail ]; then
    # unshare and sh exec: $! is kiln's own pid.
    unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$OUT/resolv-fastfail.conf" \
      "$OUT/kiln" serve --config "$1/kiln.toml" --listen "127.0.0.1:$PORT" >"$1/serve.log" 2>&1 &
  else
    "$OUT/kiln" serve --config "$1/kiln.toml" --listen "127.0.0.1:$PORT" >"$1/serve.log" 2>&1 &
  fi
  KILN_PID=$!
  for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && return 0; sleep 0.1; done
  echo "thumbs.sh: kiln serve did not come up; $1/serve.log:" >&2; tail -5 "$1/serve.log" >&2; exit 1
}
kiln_stop() { kill "$KILN_PID" 2>/dev/null; wait "$KILN_PID" 2>/dev/null || true; KILN_PID=; }

for round in $(seq "$ROUNDS"); do
  for c in $CONCS; do
    run="$OUT/kiln-c$c-r$round"
    kiln_start "$run" "$c"
    "$OUT/thumbdrive" -base "http://127.0.0.1:$PORT" -c "$c" -watch "$KILN_PID" -warmup "$BASE$FIRST?warmup=1" \
      -results "$run/results.tsv" -save "$run/thumbs" - <"$OUT/urls.txt" >"$run/summary.json" 2>"$run/drive.log"
    line "kiln c=$c" "$run/summary.json" "$OUT/kiln-c$c-r$round.row"
    awk -F'\t' -v c="$c" '$2 != 200 {printf "  kiln c=%s failed: %s: HTTP %s in %.1f s: %s\n", c, $1, $2, $3/1000, $7}' "$run/results.tsv"
    awk -F'\t' -v c="$c" '$6 == "true" {printf "  kiln c=%s blank thumbnail: %s\n", c, $1}' "$run/results.tsv"
    if [ "$c" = "$maxc" ]; then
      # The same thumbnails again, from kiln's cache.
      awk -F'\t' '$2 == 200 {print $1}' "$run/results.tsv" | sed "s|^|$BASE|" >"$run/cached-urls.txt"
      if [ -s "$run/cached-urls.txt" ]; then
        sleep 1   # let the page run settle (contexts closing)
        "$OUT/thumbdrive" -base "http://127.0.0.1:$PORT" -c "$CACHED_C" -n "$CACHED_N" - <"$run/cached-urls.txt" >"$OUT/cached-r$round.json"
        python3 - "$OUT/cached-r$round.json" "$CACHED_C" <<'PY'
import json, sys
s = json.loads(open(sys.argv[1]).read())
print(f"kiln cached  {s['pages']} requests, {sys.argv[2]} in flight: p50 {s['p50_ms']:.2f} ms  p95 {s['p95_ms']:.2f} ms  p99 {s['p99_ms']:.2f} ms  max {s['max_ms']:.1f} ms  "
      f"{s['pages_per_s']:.0f} req/s  X-Kiln-Cache {s['cache']}  failed {len(s['failed'] or [])}")
with open(sys.argv[1].removesuffix('.json') + '.row', 'w') as o:
    print(s['p50_ms'], s['p99_ms'], file=o)
PY
      fi
    fi
    kiln_stop
    if [ "$CLI" = 1 ]; then
      cli="$OUT/kiln-thumb-c$c-r$round"
      rm -rf "$cli" && mkdir -p "$cli"
      printf 'data = "%s/data"\n[thumbnails]\nallow = ["127.0.0.1/32"]\npages = %s\ntimeout = "15s"\nchromium_flags = %s\n' "$cli" "$c" "$(toml_flags)" >"$cli/kiln.toml"
      set -- "$OUT/kiln" thumb --config "$cli/kiln.toml" -o "$cli/thumbs" -
      [ "$KILN_DNS" = fastfail ] && set -- unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$OUT/resolv-fastfail.conf" "$@"
      "$OUT/thumbdrive" -watch-cmd -- "$@" <"$OUT/urls.txt" >"$cli/out.txt" 2>"$cli/err.log" || true
      python3 - "$cli/out.txt" "$c" "$(wc -l <"$OUT/urls.txt")" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().strip().splitlines()
s = json.loads(lines[-1]); summary = next((l for l in lines if l.startswith('kiln thumb:')), '(no summary line)')
n = int(sys.argv[3])
print(f"kiln thumb c={sys.argv[2]} (CLI, browser start included): {summary.removeprefix('kiln thumb: ')}; "
      f"CPU-s/page {s['cpu_s']/n:.2f}, peak PSS {s['peak_mib']['pss']:.0f} MiB")
PY
    fi
    if [ "$PEER" = 1 ]; then
      if PORT="$PAGES_PORT" OUT="$OUT/peer" CONCS="$c" LIMIT="$LIMIT" DNS="$PEER_DNS" "$PEER_DIR/bench.sh" >"$OUT/peer-c$c-r$round.log" 2>&1 &&
        grep '^{' "$OUT/peer-c$c-r$round.log" | tail -1 >"$OUT/peer-c$c-r$round.json" && [ -s "$OUT/peer-c$c-r$round.json" ]; then
        line "peer c=$c" "$OUT/peer-c$c-r$round.json" "$OUT/peer-c$c-r$round.row"
        python3 -c 'import json,sys; [print(f"  peer c={sys.argv[2]} failed: {f}") for f in json.load(open(sys.argv[1]))["failed"]]' "$OUT/peer-c$c-r$round.json" "$c"
      else
        echo "peer c=$c   failed to run; $OUT/peer-c$c-r$round.log:"; tail -5 "$OUT/peer-c$c-r$round.log" | sed 's/^/  /'
      fi
    fi
  done
done

if [ "$ROUNDS" -gt 1 ]; then
  for c in $CONCS; do
    for who in kiln peer; do
      r="$who-c$c-r*.row"
      [ -n "$(col "$r" 1)" ] || continue
      echo "median of $ROUNDS: $who c=$c pages/s $(col "$r" 1)  p50 $(col "$r" 2) ms  p95 $(col "$r" 3) ms  CPU-s/page $(col "$r" 4)  peak PSS $(col "$r" 5) MiB"
    done
  done
fi

python3 - "$OUT" "$maxc" "$CONCS" <<'PY'
import glob, os, statistics, sys
out, maxc, concs = sys.argv[1], sys.argv[2], sys.argv[3].split()
def rows(pat):
    return [list(map(float, open(f).read().split())) for f in sorted(glob.glob(os.path.join(out, pat)))]
def by_round(pat):  # round number -> row
    return {int(f.rsplit("-r", 1)[1].removesuffix(".row")): list(map(float, open(f).read().split()))
            for f in glob.glob(os.path.join(out, pat))}
med = lambda xs: statistics.median_low(xs) if xs else None
met = lambda ok: "met" if ok else "NOT met"
for c in concs:
    k, p = rows(f"kiln-c{c}-r*.row"), rows(f"peer-c{c}-r*.row")
    n = f", medians of {len(k)} rounds" if len(k) > 1 else ""
    if not k:
        continue
    kp = med([r[0] for r in k])
    if not p:
        print(f"ratio pages/s at c={c}: n/a (no peer run; kiln {kp} pages/s)")
        continue
    pp = med([r[0] for r in p])
    # Each round's two runs are minutes apart, so a round's own ratio is
    # free of the machine's drift between rounds; the goal must hold for
    # the ratio of the medians and for the median of the rounds' ratios
    # (rounds where both sides ran).
    kr, pr = by_round(f"kiln-c{c}-r*.row"), by_round(f"peer-c{c}-r*.row")
    paired = [kr[r][0] / pr[r][0] for r in sorted(kr.keys() & pr.keys())]
    pm = statistics.median(paired) if len(paired) > 1 else None
    ok = kp / pp >= 2 and (pm is None or pm >= 2)
    goal = f"goal >= 2: {met(ok)}; " if c == maxc else "no goal; "
    print(f"ratio pages/s at c={c}: {kp / pp:.2f} ({goal}kiln {kp}, peer {pp}{n})")
    if pm is not None:
        print(f"  round by round: {', '.join(f'{r:.2f}' for r in paired)}; median {pm:.2f}")
k, p = rows("kiln-c*-r*.row"), rows("peer-c*-r*.row")
if k:
    km = max(r[4] for r in k)
    pm = f"{max(r[4] for r in p):.0f} MiB" if p else "n/a"
    print(f"peak memory: kiln {km:.0f} MiB PSS, kiln + Chromium, the most of every run (goal < 1024 MiB: {met(km < 1024)}; peer {pm})")
cached = rows("cached-r*.row")
if cached:
    c50, c99 = med([r[0] for r in cached]), med([r[1] for r in cached])
    n = f", medians of {len(cached)} rounds" if len(cached) > 1 else ""
    print(f"cached thumbnail: p50 {c50:.2f} ms, p99 {c99:.2f} ms (goal < 5 ms, judged on p99: {met(c99 < 5)}{n})")
else:
    print("cached thumbnail: n/a (no page succeeded)")
PY
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
