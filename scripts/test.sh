#!/usr/bin/env bash
# Runs every test of the workspace — the README's test command, also what
# `just test` and .ci/run call.
#
# 1. Checks the prerequisites before doing anything slow: cargo-nextest (the
#    test runner; installed from crates.io when missing, as .ci/run does) and,
#    unless JOBENRICH_SKIP_BIGQUERY=1, a Python >= 3.12 for the BigQuery
#    emulator (said how to get one when missing).
# 2. Starts the local BigQuery emulator (the BigQuery adapter runs the storage
#    contract suite against it) and stops it on exit.
# 3. Builds the test binaries and the `jobenrich` / `jobenrich-worker`
#    binaries in one cargo invocation, so the system tests use them as they
#    are (JOBENRICH_TEST_BINARIES_BUILT) instead of each running cargo build,
#    then the release `jobenrich` the relocatable test copies.
# 4. Runs cargo-nextest over the whole workspace; extra arguments go to it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "test.sh: $*" >&2; }

if ! cargo nextest --version >/dev/null 2>&1; then
  say "cargo-nextest is missing; installing it from crates.io (cargo install cargo-nextest --locked, a few minutes, once)"
  say "  (or get a prebuilt one: https://nexte.st/docs/installation/pre-built-binaries/)"
  cargo install cargo-nextest --locked
fi

# The sentence encoder (var/models; idempotent, a complete copy is left as it
# is): the reference-vector test and the semantic strategy need it.
bash scripts/setup-models.sh

if [[ "${JOBENRICH_SKIP_BIGQUERY:-}" == "1" ]]; then
  # Asked explicitly: the emulator-backed tests are filtered out by the
  # `skip-bigquery` nextest profile and reported as skipped, not passed.
  echo "!!! JOBENRICH_SKIP_BIGQUERY=1: the BigQuery adapter's emulator tests are SKIPPED (not tested)." >&2
  exec cargo nextest run --workspace --no-fail-fast --profile skip-bigquery "$@"
fi

if [[ -x scripts/bigquery-emulator.sh ]]; then
  if ! scripts/bigquery-emulator.sh status >/dev/null 2>&1; then
    # Fails with how to get Python >= 3.12 before anything is installed.
    if ! py="$(scripts/bigquery-emulator.sh python)"; then
      say "the BigQuery emulator needs Python >= 3.12 (e.g. 'apt-get install python3.12 python3.12-venv',"
      say "  'pyenv install 3.12', or 'uv python install 3.12' then BQ_EMULATOR_PYTHON=/path/to/python3.12);"
      say "  JOBENRICH_SKIP_BIGQUERY=1 runs the other tests and reports the BigQuery ones as skipped"
      exit 1
    fi
    say "BigQuery emulator with $py"
    # An emulator someone already runs is used and left running.
    scripts/bigquery-emulator.sh start
    trap 'scripts/bigquery-emulator.sh stop >/dev/null 2>&1 || true' EXIT
  fi
  eval "$(scripts/bigquery-emulator.sh env)"
fi

# Same profile for the prebuilt binaries as for the tests.
profile=()
for arg in "$@"; do
  [[ "$arg" == "--release" ]] && profile=(--release)
done
# A failed build or run says what the machine had left: a full disk and an
# out-of-memory linker both end as cargo's bare exit code 101.
machine() {
  say "$1; free disk and memory here:"
  df -h . >&2 || true
  free -m >&2 || true
}
say "building the tests and binaries once"
rc=0
cargo build --workspace --bins --tests "${profile[@]}" || rc=$?
if ((rc != 0)); then
  machine "the build failed (exit $rc)"
  exit "$rc"
fi
# The relocatable test runs the release `jobenrich`. Built here, before the
# tests, so that a two-core release build never runs beside the emulator's
# timing-bound queue tests (in CI it slowed the leader's cycles ~7x, past the
# lanes test's leases).
say "building the release jobenrich for the relocatable test"
cargo build --release -p jobenrich-cli --bin jobenrich || rc=$?
if ((rc != 0)); then
  machine "the release build failed (exit $rc)"
  exit "$rc"
fi
# The tests take the binaries above as they are (no cargo call of their own).
export JOBENRICH_TEST_BINARIES_BUILT=1

cargo nextest run --workspace --no-fail-fast "$@" || rc=$?
if ((rc != 0)); then
  machine "cargo nextest failed (exit $rc)"
fi
exit "$rc"
