#!/usr/bin/env bash
# The README's test command: set up (with the dev extra), install the official BFCL checker beside it when its
# requirements are available (for the cross-check tests), and run the default CPU, offline test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k parse`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
bash scripts/setup_bfcl_checker.sh || echo "warning: official BFCL checker not installed; its cross-check tests will skip" >&2
VENV="${FUNRL_VENV:-.venv}"
"$VENV/bin/python" -m pytest -m "not slow and not gpu" -q "$@"
