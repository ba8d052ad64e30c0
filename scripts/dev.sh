#!/usr/bin/env bash
# Latentboard's two entry points. Both first make sure the project's environment exists in .venv
# (created when missing, reinstalled only when pyproject.toml changed), then:
#   serve [ARGS]   launch the dashboard, opening on the embedded `digits` dataset
#   test  [ARGS]   lint and format check (ruff), then the whole test suite (ARGS go to pytest)
#   screenshots    run the browser tests and keep their screenshots as the README's (assets/screenshots/)
#   setup          only set up the environment
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv

"$PYTHON" - <<'PY' || { echo "Latentboard needs Python 3.10 or newer (found: $("$PYTHON" --version 2>&1)). Set PYTHON=/path/to/python3.11." >&2; exit 1; }
import sys
sys.exit(sys.version_info < (3, 10))
PY

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"

stamp="$VENV/.installed-$("$VENV/bin/python" -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest()[:16])')"
if [ ! -f "$stamp" ]; then
  echo "Setting up $VENV (first run downloads PyTorch and friends; later runs reuse it)..." >&2
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e ".[test]"
  echo "Compiling UMAP's kernels once; numba keeps them on disk for every later start..." >&2
  "$VENV/bin/python" -W ignore -c "from core.projections import warm_up_umap; warm_up_umap()"
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  serve) exec "$VENV/bin/latentboard" serve "$@" ;;
  test)
    "$VENV/bin/ruff" check . || { echo "ruff check failed: fix the findings above (many: $VENV/bin/ruff check --fix .)." >&2; exit 1; }
    "$VENV/bin/ruff" format --check . || { echo "Files not formatted: run $VENV/bin/ruff format ." >&2; exit 1; }
    exec "$VENV/bin/python" -m pytest "$@" ;;
  screenshots) LATENTBOARD_README_SCREENSHOTS=1 exec "$VENV/bin/python" -m pytest tests/e2e "$@" ;;
  setup) echo "Environment ready in $VENV." ;;
  *) echo "usage: bash scripts/dev.sh serve|test|screenshots|setup [ARGS]" >&2; exit 2 ;;
esac
