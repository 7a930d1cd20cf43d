#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then run the whole suite.
source "$(dirname "$0")/venv.sh"
# PyTorch (run.watch's tests): the CPU build (200 MB) where its wheel is at hand, else the test extra
# below takes the package index's (a CUDA build of 4 GB, which runs on the CPU as well)
for wheel in /opt/wheels/torch-*+cpu-*.whl; do
  [ -e "$wheel" ] && .venv/bin/python -m pip install --quiet --no-deps "$wheel" && break
done
.venv/bin/python -m pip install --quiet -e ".[test]"
if ! command -v chromium >/dev/null 2>&1; then  # browser tests run Debian's chromium
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "the browser tests need Debian's chromium: sudo apt-get install chromium" >&2
    exit 1
  fi
fi
if ! command -v java >/dev/null 2>&1; then  # Spark's test (tests/test_engines.py) runs pyspark on a JRE
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  else
    echo "the Spark test needs a JRE: sudo apt-get install openjdk-17-jre-headless" >&2
    exit 1
  fi
fi
.venv/bin/ruff check tracker tests bench
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
(cd jupyter_extension && npm test)  # jest: the Runs sidebar's model
.venv/bin/python -m pytest "$@"
