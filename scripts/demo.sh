#!/usr/bin/env bash
# Set up on a fresh machine and open the main job: JupyterLab on the quickstart notebook, over a
# local store filled with demo runs of a small simulated training.
source "$(dirname "$0")/venv.sh"
.venv/bin/python -m pip install --quiet -e .
export TRACKER_DIR="$PWD/demo-store"
.venv/bin/tracker demo --dir "$TRACKER_DIR"
# JupyterLab refuses to start as root unless told: containers and CI machines often are root
extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)
exec .venv/bin/jupyter lab notebooks/quickstart.ipynb "${extra[@]}" "$@"
