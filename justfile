# jobenrich tasks; `just --list` shows them. Each recipe is a plain command,
# so nothing here is needed in CI (.ci/run calls scripts/test.sh directly).

default:
    @just --list

# The main job on the embedded SQLite store (var/jobenrich.db): fetch the encoder once, migrate, ingest the sample postings, enrich (skills with ESCO links, posting vectors), summarize.
run *ARGS:
    bash scripts/setup-models.sh
    cargo run --release -p jobenrich-cli -- run {{ARGS}}

# Quality gate of the active skills extractor on the shipped labeled sample (exit 1 when a threshold fails); report in var/evaluation-report.html.
evaluate *ARGS:
    cargo run --release -p jobenrich-cli -- migrate
    cargo run --release -p jobenrich-cli -- evaluate --model skills_extractor --dataset data/labeled/sample.jsonl --min-f1 0.5 --max-regression 0.02 --report var/evaluation-report.html {{ARGS}}

# Every test of the workspace (starts and stops the BigQuery emulator around cargo nextest).
test *ARGS:
    bash scripts/test.sh {{ARGS}}

# Formatting check and clippy with warnings as errors.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Criterion benchmarks of every crate that has them (reports under target/criterion).
bench *ARGS:
    cargo bench --workspace --benches {{ARGS}}

# Train the shipped skills tagger (skills_extractor v2.0) and section classifier (section_classifier v2.0) from the SkillSpan train split the repo ships; dev is scored, never trained on.
train:
    cargo run --release -p jobenrich-cli -- dataset import skillspan data/labeled/skillspan/postings.jsonl --split train --out data/labeled/skillspan-train.jsonl
    cargo run --release -p jobenrich-cli -- train skills --dataset data/labeled/skillspan-train.jsonl --dev data/labeled/skillspan-dev.jsonl --version v2.0 --seed 42 --no-register
    cargo run --release -p jobenrich-cli -- train sections --dataset data/labeled/skillspan-train.jsonl --dev data/labeled/skillspan-dev.jsonl --version v2.0 --seed 42 --no-register
