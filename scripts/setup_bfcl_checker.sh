#!/usr/bin/env bash
# Optional: the official BFCL checker (bfcl-eval) in its own venv (.venv-bfcl), for the tests that cross-check
# funrl's scores against it (they skip without it). Kept out of funrl's venv: bfcl-eval pins numpy and
# tree-sitter and its import chain loads every API SDK. Needs the checker requirements file beside the repo
# (../shared/tools); about 40 s and 550 MB, no torch.
set -euo pipefail
cd "$(dirname "$0")/.."
REQ="${BFCL_CHECKER_REQUIREMENTS:-../shared/tools/bfcl-checker-requirements.txt}"
if [ -x .venv-bfcl/bin/python ] && .venv-bfcl/bin/python -c "import bfcl_eval" 2>/dev/null; then
  exit 0
fi
if [ ! -f "$REQ" ]; then
  echo "setup_bfcl_checker: $REQ not found; official cross-check tests will skip" >&2
  exit 0
fi
python3 -m venv .venv-bfcl
.venv-bfcl/bin/python -m pip install -q --upgrade pip
.venv-bfcl/bin/python -m pip install -q --no-deps "bfcl-eval==2026.3.23"
.venv-bfcl/bin/python -m pip install -q -r "$REQ"
echo "official BFCL checker installed in .venv-bfcl"
