#!/usr/bin/env bash
# job_clusterer v1.0 (TF-IDF of skills and titles) against v2.0 (TF-IDF joined
# by posting vectors) on real postings (docs/clustering.md, "v1.0 and v2.0
# compared"), through the CLI.
#
#   bash bench/cluster_compare.sh SPLIT [EMBEDDER] [WEIGHTS...]
#
# SPLIT: SkillSpan postings train | dev | all (bench/skillspan_postings.py).
# EMBEDDER: job_embedder version, v1.0 (all-MiniLM-L6-v2; needs
# `bash scripts/setup-models.sh`) or v2.0-static (default v1.0).
# WEIGHTS: embedding_weight values tried (default: the one of
# models/job_clusterer/v2.0/model.yaml, as version v2.0 itself); each other
# weight W is registered as job_clusterer@v2.0-wNN (NN = 100·W).
# For v1.0 and each weight: `cluster run --seed S` for S in 1..5 (k by
# silhouette over 4..=16), then `cluster diff` of every pair of those runs
# (ARI), and each run's silhouette in the TF-IDF space and in the vector space
# (crates/services/examples/cluster_spaces.rs). Prints a summary per version
# and the cluster names of the seed-1 runs; raw JSON stays in $WORK.
# K=N fixes k for every run (`cluster run --k N`) instead of the silhouette
# choice, e.g. to read both versions' names at equal k. The store of a split
# and embedder is made once and reused (runs are added); remove $WORK to
# start afresh, e.g. after changing models/job_clusterer/v2.0/model.yaml,
# whose v2.0 is registered when the store is made.
set -euo pipefail
cd "$(dirname "$0")/.."
SPLIT=${1:?usage: cluster_compare.sh train|dev|all [EMBEDDER] [WEIGHTS...]}
EMBEDDER=${2:-v1.0}
shift $(( $# >= 2 ? 2 : 1 ))
WEIGHTS=("$@")
WORK=${WORK:-/tmp/jobenrich-cluster-compare}/$SPLIT-$EMBEDDER${K:+-k$K}
BIN=${JOBENRICH:-target/release/jobenrich}
SPACES=target/release/examples/cluster_spaces
[ -x "$BIN" ] || cargo build --release -q -p jobenrich-cli
[ -x "$SPACES" ] || cargo build --release -q -p jobenrich-services --example cluster_spaces
mkdir -p "$WORK"
export JOBENRICH__STORAGE__SQLITE__PATH="$WORK/jobenrich.db"
J() { "$BIN" --format json "$@"; }
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null || echo '?') split $SPLIT, job_embedder@$EMBEDDER; load: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ ! -s "$WORK/jobenrich.db" ]; then
  python3 bench/skillspan_postings.py "$SPLIT" > "$WORK/postings.jsonl"
  "$BIN" migrate > /dev/null
  "$BIN" models register "models/job_embedder/$EMBEDDER/model.yaml" > /dev/null
  "$BIN" models activate job_embedder "$EMBEDDER" > /dev/null
  "$BIN" run --no-progress "$WORK/postings.jsonl" > "$WORK/run.txt"
  "$BIN" models register models/job_clusterer/v2.0/model.yaml > /dev/null
fi
shipped_weight=$(sed -n 's/^ *embedding_weight: *\([0-9.]*\).*/\1/p' models/job_clusterer/v2.0/model.yaml)
[ ${#WEIGHTS[@]} -gt 0 ] || WEIGHTS=("$shipped_weight")

versions=(v1.0)
for w in "${WEIGHTS[@]}"; do
  if [ "$w" = "$shipped_weight" ]; then versions+=(v2.0); continue; fi
  v="v2.0-w$(python3 -c "print(round(float('$w') * 100))")"
  if ! J models list 2>/dev/null | grep -q "\"$v\""; then
    sed -e "s/^version: v2.0/version: $v/" \
        -e "s/^\( *embedding_weight:\) *[0-9.]*/\1 $w/" \
        models/job_clusterer/v2.0/model.yaml > "$WORK/clusterer-$v.yaml"
    "$BIN" models register "$WORK/clusterer-$v.yaml" > /dev/null
  fi
  versions+=("$v")
done

for v in "${versions[@]}"; do
  # v1.0 is registered by the first `cluster run` of a fresh store.
  J models activate job_clusterer "$v" > /dev/null 2>&1 || true
  : > "$WORK/runs-$v.txt"
  for seed in 1 2 3 4 5; do
    J cluster run --seed "$seed" ${K:+--k "$K"} > "$WORK/run-$v-$seed.json"
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['cluster_model_version']==sys.argv[2], r['cluster_model_version']; print(r['cluster_run_id'])" "$WORK/run-$v-$seed.json" "$v" >> "$WORK/runs-$v.txt"
  done
  mapfile -t ids < "$WORK/runs-$v.txt"
  : > "$WORK/ari-$v.txt"
  for a in 0 1 2 3 4; do for b in $(seq $((a + 1)) 4); do
    J cluster diff "${ids[$a]}" "${ids[$b]}" | python3 -c "import json,sys; print(json.load(sys.stdin)['stability']['adjusted_rand_index'])" >> "$WORK/ari-$v.txt"
  done; done
  skills_version=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['skills_version'])" "$WORK/run-$v-1.json")
  "$SPACES" "$WORK/jobenrich.db" "$skills_version" "job_embedder@$EMBEDDER" "${ids[@]}" > "$WORK/spaces-$v.jsonl"
done

python3 - "$WORK" "${versions[@]}" <<'PY'
import json, statistics, sys
work, versions = sys.argv[1], sys.argv[2:]
def mmm(xs, f="{:.3f}"):
    xs = sorted(xs)
    return f"{f.format(xs[0])} / {f.format(statistics.median(xs))} / {f.format(xs[-1])}"
print(f"{'version':12} {'weight':>6} {'k (min/med/max)':>16} {'sil. own space':>22} {'sil. TF-IDF':>22} {'sil. vectors':>22} {'ARI seeds 1..5 (10 pairs)':>26}")
for v in versions:
    runs = [json.load(open(f"{work}/run-{v}-{s}.json")) for s in range(1, 6)]
    spaces = [json.loads(l) for l in open(f"{work}/spaces-{v}.jsonl")]
    ari = [float(l) for l in open(f"{work}/ari-{v}.txt")]
    # Fixed k (K=N): the run scores no candidate, so no own-space figure.
    own = [c["silhouette"] for r in runs for c in r["k_candidates"] if c["k"] == r["k"]]
    print(f"{v:12} {runs[0]['embedding_weight']:>6} {mmm([r['k'] for r in runs], '{:.0f}'):>16} {mmm(own) if own else '-':>22} "
          f"{mmm([s['silhouette_tfidf'] for s in spaces]):>22} {mmm([s['silhouette_embedding'] for s in spaces]):>22} {mmm(ari):>26}")
print(f"jobs: {runs[0]['jobs']} ({runs[0]['jobs_with_skills']} with skills)")
for v in versions:
    r = json.load(open(f"{work}/run-{v}-1.json"))
    print(f"\n## {v} seed 1: k = {r['k']}")
    for c in r["clusters"]:
        print(f"- ({c['size']}) {c['name']} | {', '.join(k['term'] for k in c['keywords'][:6])}")
PY
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
