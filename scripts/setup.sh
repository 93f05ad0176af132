#!/usr/bin/env bash
# Set up funrl in a virtual environment (default .venv; override with FUNRL_VENV=path).
# torch==2.13.0 is installed first: on CPU machines that is the CPU wheel, and the project's own
# torch range is then already satisfied, so nothing pulls a multi-GB CUDA build.
# Extra arguments are pip extras, e.g. `bash scripts/setup.sh dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${FUNRL_VENV:-.venv}"
PY="${PYTHON:-python3}"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q "torch==${FUNRL_TORCH_VERSION:-2.13.0}"
fi
extras="${*:-}"
if [ -n "$extras" ]; then spec=".[${extras// /,}]"; else spec="."; fi
"$VENV/bin/python" -m pip install -q -e "$spec"
# BFCL multi-turn (dev, or the `multiturn` extra): bfcl-eval's simulated API classes without its SDK dependencies;
# funrl imports only those modules (funrl.multiturn.apis), which need mpmath alone.
case ",${extras// /,}," in
  *,dev,*|*,multiturn,*) "$VENV/bin/python" -m pip install -q --no-deps "bfcl-eval==2026.3.23" ;;
esac
echo "funrl installed in $VENV ($("$VENV/bin/python" -c 'import funrl, torch; print("funrl", funrl.__version__, "torch", torch.__version__)'))"
