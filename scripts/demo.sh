#!/usr/bin/env bash
# Set up on a fresh machine and open the main job: JupyterLab on the quickstart notebook, over a
# local store filled with demo runs of a small simulated training.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
export PATH="$PWD/.venv/bin:$PATH"  # kernels and tools started by the tests find this venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
export TRACKER_DIR="$PWD/demo-store"
.venv/bin/tracker demo --dir "$TRACKER_DIR"
exec .venv/bin/jupyter lab notebooks/quickstart.ipynb "$@"
