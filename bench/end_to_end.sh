#!/usr/bin/env bash
# End-to-end benchmark of the write path (docs/performance.md, "End to end").
#
#   bash bench/end_to_end.sh [SIZES...]        # default: 10000 100000
#
# For each size: builds a varied corpus (bench/make_corpus.py, cached in $WORK),
# runs `jobenrich run` on a fresh SQLite file $RUNS times and prints one line per
# run (end to end and enrichment-stage postings/s, wall, CPU, peak RSS, load
# average), then min/median/max. After the last run of each size: bytes per
# posting per table (dbstat). On the largest size: `cluster run` (time, peak RSS)
# $RUNS times on the last store, then the cluster history's bytes per job per
# run, and (REENRICH=1, default) re-enrichment of every job after the skills
# version changes, $RUNS times on copies of that store. With THREADS_CMP=1
# (default), the enrichment stage with 1 and 2 engine threads on the smallest
# size, alternated $RUNS times (the corpus ingested first, so the process's CPU
# is the stage's), with the highest 2/1 ratio the one-thread stage's CPU per
# posting allows on 2 cores, and the engine alone (no writer) on 1 and 2
# threads (`bench extract --threads 2`).
#
# Environment: RUNS (default 3), WORK (default /tmp/jobenrich-bench), JOBENRICH
# (the binary; default target/release/jobenrich, built if missing),
# THREAD_FLAG (how the engine thread count is passed, default --threads),
# REENRICH and THREADS_CMP (0 skips that part),
# MODELS (default `rules`: the write path of skills_extractor v1.0 alone, the
# figures of issue 16; `shipped`: the shipped defaults of config/models, which
# add semantic ESCO links and transformer posting vectors; `tagger`: the rules'
# section classifier and clusterer with the trained skills_extractor v2.0, an
# engine ~4x slower per posting, to see the pipeline when enriching, not
# writing, is the bound; `linked`: the shipped skills version
# (skills_extractor v2.2-semantic-static: the tagger plus semantic ESCO links)
# with the rules' section classifier and clusterer, no posting vectors);
# KEEP_PHRASE_RANKS (default false: every run ranks its skill phrases cold).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
WORK=${WORK:-/tmp/jobenrich-bench}
BIN=${JOBENRICH:-target/release/jobenrich}
THREAD_FLAG=${THREAD_FLAG:---threads}
THREADS_CMP=${THREADS_CMP:-1}
REENRICH=${REENRICH:-1}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000)
mkdir -p "$WORK"
MODELS=${MODELS:-rules}
case "$MODELS" in
  shipped) SEED_DIR=config/models ;;
  rules)
    SEED_DIR="$WORK/models-rules"
    rm -rf "$SEED_DIR" && mkdir -p "$SEED_DIR"
    cp config/models/skills_extractor-v1.0.yaml config/models/section_classifier-v1.0.yaml \
      config/models/job_clusterer-v1.0.yaml "$SEED_DIR"/ ;;
  tagger)
    SEED_DIR="$WORK/models-tagger"
    rm -rf "$SEED_DIR" && mkdir -p "$SEED_DIR"
    cp config/models/section_classifier-v1.0.yaml config/models/job_clusterer-v1.0.yaml "$SEED_DIR"/
    cp models/skills_extractor/v2.0/model.yaml "$SEED_DIR"/skills_extractor-v2.0.yaml ;;
  linked)
    SEED_DIR="$WORK/models-linked"
    rm -rf "$SEED_DIR" && mkdir -p "$SEED_DIR"
    cp config/models/section_classifier-v1.0.yaml config/models/job_clusterer-v1.0.yaml \
      config/models/skills_extractor-v2.2-semantic-static.yaml "$SEED_DIR"/ ;;
  *) echo "MODELS must be rules, shipped, tagger or linked, not $MODELS" >&2; exit 2 ;;
esac
export JOBENRICH__MODELS__SEED_DIR="$SEED_DIR"
# Each run ranks its phrases itself (the figures are of a cold process) unless
# KEEP_PHRASE_RANKS=true lets a run start from the ranks earlier runs kept.
export JOBENRICH__EMBEDDINGS__KEEP_PHRASE_RANKS=${KEEP_PHRASE_RANKS:-false}
[ -x "$BIN" ] || cargo build --release -q -p jobenrich-cli
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null || echo '?') $(nproc) cores, models: $MODELS"

corpus() { # SIZE -> path
  local f="$WORK/corpus-$1.jsonl"
  [ -s "$f" ] || python3 bench/make_corpus.py "$1" > "$f"
  echo "$f"
}

stats() { # label values... -> min/median/max
  python3 - "$@" <<'EOF'
import statistics, sys
label, vals = sys.argv[1], sorted(float(v) for v in sys.argv[2:])
print(f"{label}: min {vals[0]:.0f} / median {statistics.median(vals):.0f} / max {vals[-1]:.0f}  (n={len(vals)})")
EOF
}

# One `jobenrich run`; prints "e2e enrich wall user sys rss_kb" and leaves the store in $WORK/db.
one_run() { # corpus [extra args...]
  local input=$1; shift
  rm -rf "$WORK/db" && mkdir -p "$WORK/db"
  JOBENRICH__STORAGE__SQLITE__PATH="$WORK/db/j.db" /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" \
    "$BIN" run "$input" --no-progress --format json "$@" > "$WORK/out.json"
  python3 - "$WORK/out.json" "$WORK/time" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
wall, user, sys_, rss = open(sys.argv[2]).read().split()[-4:]
print(f"{v['end_to_end_postings_per_second']:.0f} {v['postings_per_second']:.0f} {wall} {user} {sys_} {rss}")
EOF
}

dbstat() {
  python3 - "$WORK/db/j.db" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
n = c.execute("SELECT COUNT(*) FROM job_postings").fetchone()[0]
rows = c.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
total = sum(r[1] for r in rows)
print(f"store: {total/1e6:.1f} MB for {n} postings = {total/n:.0f} B per posting")
for name, size in rows:
    if size * 100 >= total:
        print(f"  {name:45s} {size/1e6:9.1f} MB {size/n:8.0f} B/posting")
EOF
}

# What the cluster history takes: every table and index of assignments and
# runs, per stored assignment (one per job per `cluster run`).
cluster_bytes() {
  python3 - "$WORK/db/j.db" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rows, runs = c.execute("SELECT COUNT(*), COUNT(DISTINCT cluster_run_id) FROM job_clusters").fetchone()
size = c.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE '%cluster%'").fetchone()[0]
print(f"cluster history: {size/1e6:.1f} MB for {rows} assignments of {runs} runs = {size/max(rows, 1):.0f} B per job per run")
EOF
}

for size in "${SIZES[@]}"; do
  input=$(corpus "$size")
  e2e=(); enr=(); rss=()
  for r in $(seq "$RUNS"); do
    read -r a b wall user sys_ kb < <(one_run "$input")
    echo "run $size #$r: end to end $a/s, enrichment stage $b/s, wall ${wall}s, cpu ${user}+${sys_}s, peak RSS ${kb} kB, load $(cut -d' ' -f1-3 /proc/loadavg)"
    e2e+=("$a"); enr+=("$b"); rss+=("$kb")
  done
  stats "run $size end to end postings/s" "${e2e[@]}"
  stats "run $size enrichment stage postings/s" "${enr[@]}"
  stats "run $size peak RSS kB" "${rss[@]}"
  dbstat
done

last=${SIZES[-1]}
# The store of the largest size's last run is still in $WORK/db.
secs=(); rss=()
for r in $(seq "$RUNS"); do
  JOBENRICH__STORAGE__SQLITE__PATH="$WORK/db/j.db" /usr/bin/time -f '%e %M' -o "$WORK/time" \
    "$BIN" cluster run --format json > /dev/null
  read -r wall kb < "$WORK/time"
  echo "cluster run $last #$r: ${wall}s, peak RSS ${kb} kB, load $(cut -d' ' -f1-3 /proc/loadavg)"
  secs+=("$wall"); rss+=("$kb")
done
python3 -c "import statistics,sys; v=sorted(float(x) for x in sys.argv[1:]); print(f'cluster run $last seconds: min {v[0]:.2f} / median {statistics.median(v):.2f} / max {v[-1]:.2f}')" "${secs[@]}"
stats "cluster run $last peak RSS kB" "${rss[@]}"
cluster_bytes

# Re-enrichment after a version change (REENRICH=1, default), on copies of the
# largest size's store: the active skills version's config is registered again
# as "<version>-reenrich" and activated, and `run` with no new posting
# re-enriches every job (new skill rows beside the old version's; the sections
# at the unchanged classifier version are replaced).
if [ "$REENRICH" = 1 ]; then
  python3 -c "import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA wal_checkpoint(TRUNCATE)')" "$WORK/db/j.db"
  active=$(JOBENRICH__STORAGE__SQLITE__PATH="$WORK/db/j.db" "$BIN" --format json models list \
    | python3 -c "import json,sys; print(next(m['version'] for m in json.load(sys.stdin) if m['model_id']=='skills_extractor' and m['is_active']))")
  sed "s/^version: .*/version: $active-reenrich/" "$SEED_DIR/skills_extractor-$active.yaml" > "$WORK/reenrich.yaml"
  : > "$WORK/empty.jsonl"
  stage=()
  for r in $(seq "$RUNS"); do
    rm -rf "$WORK/re" && mkdir -p "$WORK/re" && cp "$WORK/db/j.db" "$WORK/re/j.db"
    export JOBENRICH__STORAGE__SQLITE__PATH="$WORK/re/j.db"
    "$BIN" models register "$WORK/reenrich.yaml" > /dev/null
    "$BIN" models activate skills_extractor "$active-reenrich" --force > /dev/null 2>&1
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$BIN" run "$WORK/empty.jsonl" --no-progress --format json > "$WORK/out.json"
    unset JOBENRICH__STORAGE__SQLITE__PATH
    read -r n b < <(python3 -c "import json,sys; v=json.load(open(sys.argv[1])); print(v['succeeded'], round(v['postings_per_second']))" "$WORK/out.json")
    read -r wall user sys_ kb < "$WORK/time"
    echo "re-enrich $last #$r: $n jobs at $active-reenrich, enrichment stage $b/s, wall ${wall}s, cpu ${user}+${sys_}s, peak RSS ${kb} kB, load $(cut -d' ' -f1-3 /proc/loadavg)"
    stage+=("$b")
  done
  stats "re-enrich $last enrichment stage postings/s" "${stage[@]}"
  rm -rf "$WORK/re"
fi

# 1 vs 2 engine threads on the enrichment stage alone: the corpus is ingested
# first (not timed), then `run` with no input enriches it, so the process's CPU
# is the stage's plus a fixed start (seeding, loading the engine), measured as
# the CPU of a `run` with nothing left to do and taken off. Two threads cannot
# beat two cores: the stage's CPU per posting with one thread gives the most
# any thread count could reach on this machine's cores, and that over the one-thread rate is
# the highest 2/1 ratio the stage's own CPU allows.
stage_run() { # corpus threads -> "stage_rate cpu_seconds start_cpu_seconds postings"
  rm -rf "$WORK/db" && mkdir -p "$WORK/db"
  export JOBENRICH__STORAGE__SQLITE__PATH="$WORK/db/j.db"
  "$BIN" migrate > /dev/null && "$BIN" ingest "$1" > /dev/null
  : > "$WORK/empty.jsonl"
  /usr/bin/time -f '%U %S' -o "$WORK/time" \
    "$BIN" run "$WORK/empty.jsonl" --no-progress --format json "$THREAD_FLAG" "$2" > "$WORK/out.json"
  /usr/bin/time -f '%U %S' -o "$WORK/time-noop" \
    "$BIN" run "$WORK/empty.jsonl" --no-progress --format json "$THREAD_FLAG" "$2" > /dev/null
  unset JOBENRICH__STORAGE__SQLITE__PATH
  python3 - "$WORK/out.json" "$WORK/time" "$WORK/time-noop" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
cpu = sum(float(x) for x in open(sys.argv[2]).read().split()[-2:])
noop = sum(float(x) for x in open(sys.argv[3]).read().split()[-2:])
print(f"{v['postings_per_second']:.0f} {cpu:.2f} {noop:.2f} {v['postings_processed']}")
PY
}

if [ "$THREADS_CMP" = 1 ]; then
  input=$(corpus "${SIZES[0]}")
  one=(); two=(); ceil=()
  for r in $(seq "$RUNS"); do
    for t in 1 2; do
      read -r b cpu noop n < <(stage_run "$input" "$t")
      line="threads $t #$r: enrichment stage $b/s, stage cpu $(python3 -c "print(f'{$cpu - $noop:.2f}')")s (run ${cpu}s, start ${noop}s) for $n postings"
      if [ "$t" = 1 ]; then
        # Every core's worth of the one-thread stage's CPU per posting.
        read -r busy c q < <(python3 -c "n=$n; s=$cpu-$noop; c=$(nproc)*n/s; print(f'{s*$b/n:.2f} {c:.0f} {c/$b:.2f}')")
        line="$line, $busy cores busy; $(nproc) cores at this CPU per posting: $c/s, at most $q x this rate"
        one+=("$b"); ceil+=("$q")
      else
        two+=("$b")
      fi
      echo "$line, load $(cut -d' ' -f1-3 /proc/loadavg)"
    done
  done
  stats "1 engine thread, enrichment stage postings/s" "${one[@]}"
  stats "2 engine threads, enrichment stage postings/s" "${two[@]}"
  python3 -c "import statistics,sys; a=[float(x) for x in sys.argv[1].split()]; b=[float(x) for x in sys.argv[2].split()]; print('ratio 2/1 per pair: ' + ' '.join(f'{y/x:.2f}' for x,y in zip(a,b)))" "${one[*]}" "${two[*]}"
  python3 -c "import statistics,sys; v=sorted(float(x) for x in sys.argv[1:]); print(f'highest 2/1 ratio the stage CPU allows on $(nproc) cores: min {v[0]:.2f} / median {statistics.median(v):.2f} / max {v[-1]:.2f}')" "${ceil[@]}"
fi

# The engine alone, without the writer: sectioning + extraction on 1 and 2
# threads at once (`bench extract --threads 2`, same process, one engine), so
# the pipeline's ratio above can be read against what the engine itself allows.
if [ "$THREADS_CMP" = 1 ]; then
  ratios=()
  for r in $(seq "$RUNS"); do
    # No store at that path: the engine is what `run` would seed ($SEED_DIR).
    JOBENRICH__STORAGE__SQLITE__PATH="$WORK/no-store/j.db" "$BIN" --format json bench extract --input "$(corpus "${SIZES[0]}")" \
      --postings 1000 --rounds 20 --threads 2 > "$WORK/engine.json" 2> /dev/null
    ratio=$(python3 -c "import json,sys; p=json.load(open(sys.argv[1]))['phases']; b=[x['postings_per_sec'] for x in p if x['phase']=='both'][-2:]; print(f'{b[1]/b[0]:.2f} {b[0]:.0f} {b[1]:.0f}')" "$WORK/engine.json")
    read -r q one two <<< "$ratio"
    echo "engine alone #$r: 1 thread $one/s, 2 threads $two/s, ratio $q, load $(cut -d' ' -f1-3 /proc/loadavg)"
    ratios+=("$q")
  done
  python3 -c "import statistics,sys; v=sorted(float(x) for x in sys.argv[1:]); print(f'engine alone, 2/1 threads: min {v[0]:.2f} / median {statistics.median(v):.2f} / max {v[-1]:.2f}')" "${ratios[@]}"
fi
