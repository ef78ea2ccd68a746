#!/usr/bin/env bash
# Runs every test of the workspace — the README's test command, also what
# `just test` and .ci/run call. Starts the local BigQuery emulator first (the
# BigQuery adapter runs the storage contract suite against it) and stops it on
# exit, then runs cargo-nextest over the whole workspace.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ "${JOBENRICH_SKIP_BIGQUERY:-}" == "1" ]]; then
  # Asked explicitly: the emulator-backed tests are filtered out by the
  # `skip-bigquery` nextest profile and reported as skipped, not passed.
  echo "!!! JOBENRICH_SKIP_BIGQUERY=1: the BigQuery adapter's emulator tests are SKIPPED (not tested)." >&2
  exec cargo nextest run --workspace --no-fail-fast --profile skip-bigquery "$@"
fi

if [[ -x scripts/bigquery-emulator.sh ]]; then
  # An emulator someone already runs is used and left running.
  if ! scripts/bigquery-emulator.sh status >/dev/null 2>&1; then
    scripts/bigquery-emulator.sh start
    trap 'scripts/bigquery-emulator.sh stop >/dev/null 2>&1 || true' EXIT
  fi
  eval "$(scripts/bigquery-emulator.sh env)"
fi

cargo nextest run --workspace --no-fail-fast "$@"
