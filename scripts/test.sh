#!/usr/bin/env bash
# The README's test command: set up (with the dev extra) and run the default CPU, offline test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k parse`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
VENV="${FUNRL_VENV:-.venv}"
"$VENV/bin/python" -m pytest -m "not slow and not gpu" -q "$@"
