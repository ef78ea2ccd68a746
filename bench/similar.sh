#!/usr/bin/env bash
# Benchmark of `jobenrich similar` (docs/performance.md, "Similar jobs"): an
# exact scan of every posting vector at one version.
#
#   bash bench/similar.sh [N]        # default N = 100000 vectors of 384 values
#
# Builds a SQLite store of N postings with random unit vectors (what the
# `embeddings` enrichment stores: float32 LE blobs; made directly, since the
# encoder would take hours for N postings), then times `jobenrich similar` $RUNS
# times: wall, CPU and peak RSS, then min/median/max, with the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
RUNS=${RUNS:-3}
WORK=${WORK:-/tmp/jobenrich-bench-similar}
BIN=${JOBENRICH:-target/release/jobenrich}
[ -x "$BIN" ] || cargo build --release -q -p jobenrich-cli
mkdir -p "$WORK"
DB="$WORK/similar-$N.db"
export JOBENRICH__STORAGE__SQLITE__PATH="$DB"
if [ ! -s "$DB" ]; then
  "$BIN" migrate > /dev/null
  python3 - "$DB" "$N" <<'PY'
import array, math, random, sqlite3, sys
db, n = sys.argv[1], int(sys.argv[2])
random.seed(7)
conn = sqlite3.connect(db)
now = 1_796_000_000_000_000
def rows():
    for i in range(n):
        v = array.array("f", (random.gauss(0, 1) for _ in range(384)))
        norm = math.sqrt(sum(x * x for x in v))
        v = array.array("f", (x / norm for x in v))
        yield (f"job-{i:07d}", "job_embedder@v1.0", "job_embedder", "v1.0", 384, v.tobytes(), 1000, now)
conn.executemany(
    "INSERT INTO job_postings (job_posting_id, title, description, ingested_at) VALUES (?, ?, ?, ?)",
    ((f"job-{i:07d}", f"Job {i}", "text", now) for i in range(n)),
)
conn.executemany(
    "INSERT INTO job_embeddings (job_posting_id, enrichment_version, model_id, model_version, dimension, embedding, source_chars, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    rows(),
)
conn.commit()
PY
fi
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null || echo '?') $(nproc) cores; $N vectors; load: $(cut -d' ' -f1-3 /proc/loadavg)"
walls=()
for _ in $(seq "$RUNS"); do
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$BIN" similar job-0000000 --top 10 --format json > /dev/null
  read -r wall user sys rss < "$WORK/time"
  echo "wall ${wall}s user ${user}s sys ${sys}s rss ${rss}KB"
  walls+=("$wall")
done
python3 - "${walls[@]}" <<'PY'
import statistics, sys
v = sorted(float(x) for x in sys.argv[1:])
print(f"similar over the store: min {v[0]:.2f} s / median {statistics.median(v):.2f} s / max {v[-1]:.2f} s (n={len(v)}); load: {open('/proc/loadavg').read().split()[:3]}")
PY
