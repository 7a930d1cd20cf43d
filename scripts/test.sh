#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then run the whole suite.
source "$(dirname "$0")/venv.sh"
.venv/bin/python -m pip install --quiet -e ".[test]"
.venv/bin/ruff check tracker tests bench
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
