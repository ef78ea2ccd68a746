#!/usr/bin/env bash
# Runs every test of the workspace — the README's test command, also what
# `just test` and .ci/run call. Starts the local BigQuery emulator first (the
# BigQuery adapter runs the storage contract suite against it) and stops it on
# exit, then runs cargo-nextest over the whole workspace.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -x scripts/bigquery-emulator.sh ]]; then
  # An emulator someone already runs is used and left running.
  if ! scripts/bigquery-emulator.sh status >/dev/null 2>&1; then
    scripts/bigquery-emulator.sh start
    trap 'scripts/bigquery-emulator.sh stop >/dev/null 2>&1 || true' EXIT
  fi
  eval "$(scripts/bigquery-emulator.sh env)"
fi

cargo nextest run --workspace --no-fail-fast "$@"
