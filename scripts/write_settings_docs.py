"""Rewrite the table of settings in docs/settings.md from the declarations in tracker/settings.py.

Usage: ``.venv/bin/python scripts/write_settings_docs.py [PATH]`` (default: docs/settings.md).
"""

from __future__ import annotations

import os
import sys

from tracker.settings import write_docs

if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "docs", "settings.md")
    print(("rewrote " if write_docs(path) else "unchanged: ") + os.path.normpath(path))
