#!/usr/bin/env bash
# Installs and runs the local BigQuery emulator (PyPI `local-bigquery`, DuckDB-backed)
# that the BigQuery adapter's tests run against.
#
#   scripts/bigquery-emulator.sh install   # venv under .venv-bq, created once and reused
#   scripts/bigquery-emulator.sh start     # install if needed, start on 127.0.0.1, print the URL
#   scripts/bigquery-emulator.sh url       # print the URL of the running emulator
#   scripts/bigquery-emulator.sh env       # print `export JOBENRICH_BQ_EMULATOR_URL=...`
#   scripts/bigquery-emulator.sh stop      # stop it and delete its data dir
#   scripts/bigquery-emulator.sh status
#   scripts/bigquery-emulator.sh python    # print the Python >= 3.12 it would use, or say how to get one
#
# Environment: BQ_EMULATOR_PORT (default 9050), BQ_EMULATOR_GRPC_PORT (default 9060),
# BQ_EMULATOR_PYTHON (an explicit Python >= 3.12 interpreter).
#
# Why each step: local-bigquery needs Python >= 3.12; at run time DuckDB tries to
# download its ducklake/icu/spatial extensions, which fails offline, so the
# extensions come from PyPI wheels pinned to the DuckDB version and are installed
# from their files, with HOME pointing at a project-local folder (DuckDB keeps
# extensions under $HOME/.duckdb) for both install and run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-bq"
BQ_HOME="$ROOT/.venv-bq/home"
RUN_DIR="$ROOT/.venv-bq/run"
PID_FILE="$RUN_DIR/emulator.pid"
URL_FILE="$RUN_DIR/emulator.url"
DATA_FILE="$RUN_DIR/emulator.datadir"
LOG_FILE="$RUN_DIR/emulator.log"
STAMP="$VENV/.installed-v1"
PORT="${BQ_EMULATOR_PORT:-9050}"
GRPC_PORT="${BQ_EMULATOR_GRPC_PORT:-9060}"
PROJECT="test-proj"

# Pinned: every probe of the adapter passed on these; pip warns that
# local-bigquery asks for a newer duckdb, but the extension wheels stop at 1.5.5.
PACKAGES=(
  "local-bigquery==0.4.0"
  "duckdb==1.5.5"
  "duckdb-extension-ducklake==1.5.5"
  "duckdb-extension-icu==1.5.5"
  "duckdb-extension-spatial==1.5.5"
)

log() { echo "bigquery-emulator: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

find_python() {
  if [[ -n "${BQ_EMULATOR_PYTHON:-}" ]]; then
    echo "$BQ_EMULATOR_PYTHON"
    return
  fi
  local candidates=()
  if command -v pyenv >/dev/null 2>&1; then
    local root
    root="$(pyenv root)"
    for v in 3.13 3.12; do
      for p in "$root"/versions/"$v".*/bin/python; do
        [[ -x "$p" ]] && candidates+=("$p")
      done
    done
  fi
  candidates+=(python3.13 python3.12 python3)
  for c in "${candidates[@]}"; do
    if command -v "$c" >/dev/null 2>&1 &&
      "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      command -v "$c"
      return
    fi
  done
  die "no Python >= 3.12 found (local-bigquery fails on 3.11 with a SyntaxError). \
Install one (e.g. 'pyenv install 3.12') or set BQ_EMULATOR_PYTHON=/path/to/python3.12; \
to run the tests without BigQuery set JOBENRICH_SKIP_BIGQUERY=1."
}

install() {
  if [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "${PACKAGES[*]}" ]]; then
    return
  fi
  local started py
  started=$(date +%s)
  py="$(find_python)"
  log "creating venv at $VENV with $py ($("$py" --version 2>&1))"
  rm -rf "$VENV"
  "$py" -m venv "$VENV"
  # Two steps: local-bigquery declares duckdb>1.5.5, which the resolver refuses
  # in one go; the second step pins duckdb back to the version the extension
  # wheels exist for (pip prints a dependency warning, expected).
  "$VENV/bin/python" -m pip install --quiet "${PACKAGES[0]}" ||
    die "pip install of ${PACKAGES[0]} failed"
  "$VENV/bin/python" -m pip install --quiet "${PACKAGES[@]:1}" 2>&1 |
    grep -v -E "dependency conflicts|local-bigquery .* requires duckdb|pip's dependency resolver" >&2 || true
  "$VENV/bin/python" -c 'import duckdb, sys; sys.exit(duckdb.__version__ != "1.5.5")' ||
    die "pip install of ${PACKAGES[*]:1} failed"
  mkdir -p "$BQ_HOME"
  log "installing DuckDB extensions offline into $BQ_HOME/.duckdb"
  HOME="$BQ_HOME" "$VENV/bin/python" - <<'EOF'
import importlib, pathlib, duckdb
con = duckdb.connect()
for name in ("ducklake", "icu", "spatial"):
    pkg = importlib.import_module(f"duckdb_extension_{name}")
    files = list(pathlib.Path(pkg.__file__).parent.rglob(f"{name}.duckdb_extension"))
    if not files:
        raise SystemExit(f"{name}.duckdb_extension not found in {pkg.__file__}")
    con.execute(f"INSTALL '{files[0]}'")
    con.execute(f"LOAD {name}")
    print(f"installed {name} from {files[0]}")
EOF
  echo "${PACKAGES[*]}" >"$STAMP"
  log "installed in $(($(date +%s) - started)) s"
}

is_running() {
  [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

probe() {
  curl -s -o /dev/null -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' \
    -d '{"query":"SELECT 1","useLegacySql":false}' \
    "$1/bigquery/v2/projects/$PROJECT/queries" 2>/dev/null || true
}

start() {
  install
  mkdir -p "$RUN_DIR"
  if is_running; then
    log "already running (pid $(cat "$PID_FILE"))"
    cat "$URL_FILE"
    return
  fi
  local base="http://127.0.0.1:$PORT" data
  if [[ "$(probe "$base")" == "200" ]]; then
    die "port $PORT already answers BigQuery queries but not from this script's pid file; \
stop that process or set BQ_EMULATOR_PORT"
  fi
  # A fresh data dir per run: the tests assume an empty emulator.
  data="$(mktemp -d "${TMPDIR:-/tmp}/jobenrich-bq-data.XXXXXX")"
  echo "$data" >"$DATA_FILE"
  (
    cd "$RUN_DIR"
    HOME="$BQ_HOME" exec setsid "$VENV/bin/local-bigquery" serve \
      --host 127.0.0.1 --port "$PORT" --grpc-port "$GRPC_PORT" \
      --project "$PROJECT" --data-dir "$data" >"$LOG_FILE" 2>&1
  ) &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 150); do
    if [[ "$(probe "$base")" == "200" ]]; then
      echo "$base" >"$URL_FILE"
      log "ready at $base (pid $(cat "$PID_FILE"), log $LOG_FILE)"
      echo "$base"
      return
    fi
    if ! is_running; then
      tail -n 30 "$LOG_FILE" >&2 || true
      die "emulator exited during start-up (log above, $LOG_FILE)"
    fi
    sleep 0.2
  done
  tail -n 30 "$LOG_FILE" >&2 || true
  stop
  die "emulator did not answer SELECT 1 within 30 s"
}

stop() {
  if is_running; then
    local pid
    pid="$(cat "$PID_FILE")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    log "stopped pid $pid"
  fi
  rm -f "$PID_FILE" "$URL_FILE"
  if [[ -f "$DATA_FILE" ]]; then
    rm -rf "$(cat "$DATA_FILE")"
    rm -f "$DATA_FILE"
  fi
}

case "${1:-}" in
install) install ;;
start) start ;;
stop) stop ;;
url) is_running && cat "$URL_FILE" || die "not running (run: $0 start)" ;;
env) is_running && echo "export JOBENRICH_BQ_EMULATOR_URL=$(cat "$URL_FILE")" || die "not running (run: $0 start)" ;;
python) find_python ;;
status) if is_running; then echo "running pid $(cat "$PID_FILE") at $(cat "$URL_FILE")"; else echo "stopped"; exit 1; fi ;;
*) die "usage: $0 install|start|stop|url|env|status|python" ;;
esac
