# Sourced by demo.sh and test.sh: enter the checkout and make sure .venv exists and comes first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
export PATH="$PWD/.venv/bin:$PATH"  # kernels and tools started from here find this venv
.venv/bin/python -m pip install --quiet --upgrade pip
