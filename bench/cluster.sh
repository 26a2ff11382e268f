#!/usr/bin/env bash
# Multi-node benchmark (issue 8), all on 127.0.0.1 over real engines: a
# throwaway PostgreSQL 15 + PostGIS 3 (map data and river's queue) and
# versitygw (the S3 cache), both started by the Go tests' helpers.
#   - bulk render of the bundled extract at z0-18 with the default style:
#     kiln render alone (in-process queue, 2 workers), one kiln serve node
#     with 2 workers fed through the shared queue, two nodes with 1 worker
#     each (the same cores) and with 2 each; renderers' and PostgreSQL's
#     CPU per metatile, the queue's cost and 2 nodes against 1 (test/cluster).
#   - the queue's own cost per job, 1 and 64 in flight (internal/sharedq).
#   - a cached tile from S3 through kiln serve over HTTP (internal/cli).
# Prints the go test benchmark lines, then one "name value" line per figure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
ensure_apt "${TEST_PACKAGES[@]}"
ensure_versitygw
export KILN_REQUIRE_INTEROP=1
out=$(mktemp /tmp/kiln-cluster-bench.XXXXXX)
trap 'rm -f "$out"' EXIT

go test -count=1 -run '^$' -bench BulkRender -benchtime 1x -timeout 20m ./test/cluster/ | tee -a "$out"
go test -count=1 -run '^$' -bench EnqueueWait -benchtime 2000x ./internal/sharedq/ | tee -a "$out"
go test -count=1 -run '^$' -bench ServeS3CachedTile -benchtime 5000x ./internal/cli/ | tee -a "$out"

echo
echo "== figures"
python3 - "$out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def metrics(name):
    m = re.search(r'^' + re.escape(name) + r'\S*\s+\d+\s+(.*)$', text, re.M)
    if not m:
        return {}
    f = m.group(1).split()
    return {f[i + 1]: float(f[i]) for i in range(0, len(f) - 1, 2)}
b = metrics('BenchmarkBulkRender')
nan = float('nan')
print(f'{"bulk render, metatiles":44} {b.get("metatiles", nan):.0f}')
for v, label in [('alone', 'kiln render alone, 2 workers'), ('1node', '1 node x 2 workers'),
                 ('2x1', '2 nodes x 1 worker'), ('2x2', '2 nodes x 2 workers')]:
    print(f'{label + " (metatiles/s)":44} {b.get(v + "-metatiles/s", nan):.2f}')
    print(f'{label + " (CPU ms/metatile)":44} {b.get(v + "-cpu-ms/metatile", nan):.1f}')
    print(f'{label + " (PostgreSQL CPU ms/metatile)":44} {b.get(v + "-pg-cpu-ms/metatile", nan):.1f}')
print(f'{"2 nodes x 1 worker / 1 node":44} {b.get("2x1/1node", nan):.2f}')
print(f'{"2 nodes x 2 workers / 1 node":44} {b.get("2x2/1node", nan):.2f}')
print(f'{"queue: wall added (ms/metatile)":44} {b.get("queue-ms/metatile", nan):.2f}')
print(f'{"queue: PostgreSQL CPU added (ms/metatile)":44} {b.get("1node-pg-cpu-ms/metatile", nan) - b.get("alone-pg-cpu-ms/metatile", nan):.2f}')
for n in ('1', '64'):
    e = metrics(f'BenchmarkEnqueueWait/inflight={n}')
    print(f'{"queue job, " + n + " in flight (ms/job)":44} {e.get("ns/op", float("nan")) / 1e6:.2f}')
s = metrics('BenchmarkServeS3CachedTile')
print(f'{"cached tile from S3, p50 (ms)":44} {s.get("p50-ms", float("nan")):.2f}')
print(f'{"cached tile from S3, p99 (ms)":44} {s.get("p99-ms", float("nan")):.2f}')
PY
